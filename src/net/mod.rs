//! Networking: the loopback interface of a new network namespace, which the kernel
//! creates down; link creation over netlink; the bridge (`bridge.rs`) and its
//! address leases (`lease.rs`).

pub mod bridge;
pub mod lease;
mod nat;
pub mod netlink;
pub mod publish;

use crate::error::{Context, Error, Result};
use crate::{json, state, sys};
use bridge::Bridge;
use lease::Lease;
use netlink::{Message, Socket};
use std::path::Path;

pub fn bring_up_loopback() -> Result<()> {
    sys::interface_up("lo").ctx("bring up the loopback interface")?;
    crate::debug::step!("loopback up");
    Ok(())
}

/// Creates a link of `kind` ("veth", "bridge") named `name` in the current network
/// namespace; a veth also gets its peer, `peer`.
pub fn create_link(name: &str, kind: &str, peer: Option<&str>) -> nix::Result<()> {
    let ifinfo = [0u8; netlink::IFINFOMSG_LEN];
    let flags = netlink::NLM_F_CREATE | netlink::NLM_F_EXCL;
    let mut msg = Message::new(netlink::RTM_NEWLINK, flags, &ifinfo);
    msg.attr_str(netlink::IFLA_IFNAME, name)
        .nested(netlink::IFLA_LINKINFO, |m| {
            m.attr_str(netlink::IFLA_INFO_KIND, kind);
            if let Some(peer) = peer {
                m.nested(netlink::IFLA_INFO_DATA, |m| {
                    m.nested(netlink::VETH_INFO_PEER, |m| {
                        m.raw(&ifinfo).attr_str(netlink::IFLA_IFNAME, peer);
                    });
                });
            }
        });
    Socket::open()?.request(msg)
}

/// `qing net [--json]`: the bridge, its subnet, whether it exists, and the leases of
/// the containers that hold one (stale ones are not shown: they are free).
pub fn show(config_dir: &Path, run: &Path, as_json: bool) -> Result<i32> {
    let mut bridge = Bridge::configured(config_dir)?;
    bridge.nat |= nat_mark(&bridge, run).exists();
    let up = sys::interface_index(&bridge.name).is_ok();
    let leases: Vec<Lease> = bridge
        .leases(run)
        .read()
        .into_iter()
        .filter(|l| state::is_claimed(&l.name).unwrap_or(true))
        .collect();
    if as_json {
        let items = leases.iter().map(|l| {
            json::object(vec![
                ("name", json::string(&l.name)),
                ("address", json::string(&l.addr.to_string())),
            ])
        });
        let array = items.collect();
        crate::error::out!(
            "{}",
            json::to_string(&json::object(vec![
                ("bridge", json::string(&bridge.name)),
                ("subnet", json::string(&bridge.subnet.to_string())),
                (
                    "gateway",
                    json::string(&bridge.subnet.gateway().to_string())
                ),
                ("exists", json::Value::Bool(up)),
                ("nat", json::Value::Bool(bridge.nat)),
                ("leases", json::Value::Array(array)),
            ]))
        );
        return Ok(0);
    }
    let state = if up { "up" } else { "not created yet" };
    crate::error::out!(
        "bridge {} ({state}), subnet {}, gateway {}, NAT {}",
        bridge.name,
        bridge.subnet,
        bridge.subnet.gateway(),
        if bridge.nat { "on" } else { "off" }
    );
    crate::error::out!("{:<16} NAME", "ADDRESS");
    for l in leases {
        crate::error::out!("{:<16} {}", l.addr.to_string(), l.name);
    }
    Ok(0)
}

/// The tool NAT would use ("nft" or "iptables"), for `qing check`.
pub fn nat_tool() -> Option<&'static str> {
    nat::tool().map(|(name, _)| name)
}

/// `qing net up`: makes the bridge now (as the first bridged container would) and
/// applies its NAT setting, also to a bridge that exists already; `nat` turns NAT on
/// whatever the setting.
pub fn up(config_dir: &Path, run: &Path, nat: bool) -> Result<i32> {
    let mut bridge = Bridge::configured(config_dir)?;
    bridge.nat |= nat;
    let leases = bridge.leases(run);
    let _lock = leases.lock()?;
    let nl = Socket::open().ctx("open a netlink socket")?;
    bridge.ensure(&nl)?;
    if bridge.nat {
        nat::enable(&bridge.name, &bridge.subnet)?;
    }
    if nat {
        let mark = nat_mark(&bridge, run);
        crate::sys::create_file(&mark, b"", 0o600).at("write", &mark)?;
    }
    Ok(0)
}

/// Marks NAT turned on by `qing net up --nat` (until `qing net down`, as its rules
/// last), beside the leases, so that `qing net` shows it.
fn nat_mark(bridge: &Bridge, run: &Path) -> std::path::PathBuf {
    run.join("net").join(format!("{}.nat", bridge.name))
}

/// `qing net down`: removes the bridge, once no container is on it.
pub fn down(config_dir: &Path, run: &Path) -> Result<i32> {
    let bridge = Bridge::configured(config_dir)?;
    let leases = bridge.leases(run);
    let _lock = leases.lock()?;
    let users: Vec<String> = leases
        .read()
        .into_iter()
        .filter(|l| state::is_claimed(&l.name).unwrap_or(true))
        .map(|l| l.name)
        .collect();
    if !users.is_empty() {
        return Err(Error::new(format!(
            "bridge {} is in use by {}",
            bridge.name,
            users.join(", ")
        ))
        .hint("stop those containers first"));
    }
    if sys::interface_index(&bridge.name).is_ok() {
        bridge.remove()?;
    }
    let _ = std::fs::remove_file(nat_mark(&bridge, run));
    Ok(0)
}
