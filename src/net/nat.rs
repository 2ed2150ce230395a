//! Outbound NAT for the bridge (`"nat": true` in its settings): IPv4 forwarding on,
//! and the bridge's subnet masqueraded behind the host's address on the way out.
//!
//! The kernel's netfilter rules are set up by the board's own tool, nft or else
//! iptables, run once when the bridge is made (or `qing net up`): qing does not speak
//! nftables' netlink protocol, which is large and changes across kernels. A board
//! with neither tool gets an error that says so; everything else about the bridge
//! works without them.

use super::lease::Subnet;
use crate::error::{Context, Error, Result};
use crate::kernel;
use std::ffi::CString;
use std::path::{Path, PathBuf};

const TOOL_DIRS: [&str; 4] = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"];
/// nftables table of qing's rules: removing it removes them all.
const NFT_TABLE: &str = "qing";

fn find_tool(name: &str) -> Option<PathBuf> {
    TOOL_DIRS
        .iter()
        .map(|d| PathBuf::from(d).join(name))
        .find(|p| p.is_file())
}

fn run(tool: &Path, args: &[&str]) -> Result<bool> {
    let what = || format!("run {}", tool.display());
    let program =
        CString::new(tool.as_os_str().as_encoded_bytes()).map_err(|_| Error::new(what()))?;
    let mut argv = vec![program.clone()];
    for a in args {
        argv.push(CString::new(*a).map_err(|_| Error::new(what()))?);
    }
    run_quietly(&program, &argv).context(what)
}

/// Runs `program` with `args` (argv[0] first), its stdio on /dev/null and an empty
/// environment, and returns whether it exited 0. Not std::process::Command: its
/// environment map and spawn machinery cost 17 KB, for the one tool qing ever runs.
fn run_quietly(program: &std::ffi::CStr, args: &[CString]) -> nix::Result<bool> {
    use std::os::fd::AsRawFd;
    let null = crate::sys::open_fd(
        std::path::Path::new("/dev/null"),
        nix::fcntl::OFlag::O_RDWR,
        0,
    )?;
    match crate::sys::clone_process(nix::sched::CloneFlags::empty())? {
        None => {
            for fd in 0..3 {
                let _ = crate::sys::dup_onto(null.as_raw_fd(), fd);
            }
            let env: [&std::ffi::CStr; 0] = [];
            let _ = nix::unistd::execve(program, args, &env);
            crate::sys::exit_now(127)
        }
        Some(child) => Ok(matches!(
            crate::wait::reap(Some(child), true),
            Some((_, crate::wait::Exit::Code(0)))
        )),
    }
}

/// nft, else iptables: the tool the NAT rules are made with.
pub fn tool() -> Option<(&'static str, PathBuf)> {
    ["nft", "iptables"]
        .into_iter()
        .find_map(|name| find_tool(name).map(|path| (name, path)))
}

/// The iptables rules: TABLE CHAIN MATCH... (bridge names and subnets hold no space).
fn iptables_rules(bridge: &str, subnet: &str) -> [String; 3] {
    [
        format!("nat POSTROUTING -s {subnet} ! -o {bridge} -j MASQUERADE"),
        format!("filter FORWARD -i {bridge} -j ACCEPT"),
        format!("filter FORWARD -o {bridge} -j ACCEPT"),
    ]
}

/// `iptables -t TABLE ACTION CHAIN MATCH...`; whether it succeeded.
fn iptables(tool: &Path, action: &str, rule: &str) -> Result<bool> {
    let mut words = rule.split(' ');
    let table = words.next().unwrap_or("filter");
    let mut args = vec!["-t", table, action];
    args.extend(words);
    run(tool, &args)
}

/// Turns on forwarding and masquerading for `subnet` leaving through anything but
/// `bridge`. Idempotent.
pub fn enable(bridge: &str, subnet: &Subnet) -> Result<()> {
    crate::sys::write_file("/proc/sys/net/ipv4/ip_forward", b"1")
        .ctx("turn on IPv4 forwarding (/proc/sys/net/ipv4/ip_forward)")?;
    let subnet = subnet.to_string();
    let tool = tool().ok_or_else(|| {
        Error::new(format!(
            "NAT for bridge {bridge} needs nft (nftables) or iptables, and this system has neither"
        ))
        .hint("install nftables or iptables, or leave \"nat\" out of the bridge settings")
    })?;
    if let ("nft", nft) = &tool {
        // As arguments, not a script file: a file in a shared temporary directory
        // would be a place for another account to plant a symlink.
        let _ = run(nft, &["delete", "table", "ip", NFT_TABLE]);
        let bridge_name = format!("\"{bridge}\"");
        let steps: [&[&str]; 3] = [
            &["add", "table", "ip", NFT_TABLE],
            &[
                "add",
                "chain",
                "ip",
                NFT_TABLE,
                "post",
                "{ type nat hook postrouting priority 100 ; }",
            ],
            &[
                "add",
                "rule",
                "ip",
                NFT_TABLE,
                "post",
                "ip",
                "saddr",
                &subnet,
                "oifname",
                "!=",
                &bridge_name,
                "masquerade",
            ],
        ];
        for step in steps {
            if !run(nft, step)? {
                return Err(
                    Error::new(format!("nft refused qing's NAT rules for {bridge}")).hint(format!(
                        "check that the kernel has nf_tables with NAT ({}, {})",
                        kernel::NFT_NAT.name,
                        kernel::NFT_MASQ.name
                    )),
                );
            }
        }
        return Ok(());
    }
    let tool = tool.1;
    for rule in iptables_rules(bridge, &subnet) {
        if !iptables(&tool, "-C", &rule)? && !iptables(&tool, "-A", &rule)? {
            return Err(
                Error::new(format!("iptables refused qing's NAT rules for {bridge}")).hint(
                    format!(
                        "check that the kernel has NAT ({}, {})",
                        kernel::IP_NF_NAT.name,
                        kernel::IP_NF_TARGET_MASQUERADE.name
                    ),
                ),
            );
        }
    }
    Ok(())
}

/// Removes what `enable` added, with whichever tool is there. Best effort.
pub fn disable(bridge: &str, subnet: &Subnet) {
    if let Some(nft) = find_tool("nft") {
        let _ = run(&nft, &["delete", "table", "ip", NFT_TABLE]);
    }
    if let Some(tool) = find_tool("iptables") {
        for rule in iptables_rules(bridge, &subnet.to_string()) {
            while iptables(&tool, "-D", &rule).unwrap_or(false) {}
        }
    }
}
