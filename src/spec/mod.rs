//! What a container is: parsed and validated, with no system calls. Bad input stops
//! here, with a message that names the option and the value, before anything exists.

pub mod options;
mod parse;

pub use options::Options;
pub use parse::*;

use crate::error::{Error, Result};
use crate::features::{BRIDGE, EXEC};
use crate::template::Defaults;
use std::ffi::CString;
use std::path::PathBuf;

/// Used when the container's environment has no PATH of its own.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// CFS period for `--cpus`: 100 ms, as docker and the kernel default use.
pub const CPU_PERIOD_US: u64 = 100_000;
/// Below this a container cannot even set itself up; asking for less is a mistake.
pub const MIN_MEMORY: u64 = 2 * 1024 * 1024;

#[derive(Debug)]
pub struct Spec {
    pub name: String,
    pub rootfs: String,
    /// argv of the container's command; empty for the image's default.
    pub command: Vec<CString>,
    /// KEY=VALUE entries given by the user, in order, later ones winning.
    pub env: Vec<CString>,
    pub hostname: String,
    /// None for the image's default.
    pub workdir: Option<CString>,
    pub user: Option<User>,
    pub limits: Limits,
    pub volumes: Vec<Volume>,
    pub read_only: bool,
    /// `--overlay DIR`: the writable layer persists in DIR.
    pub overlay: Option<PathBuf>,
    pub net: Net,
    /// `--ip`: the container's address on the bridge; None for the first free one.
    pub ip: Option<std::net::Ipv4Addr>,
    /// `--net container:NAME`: NAME.
    pub net_of: Option<String>,
    /// `--publish`: host ports forwarded to the container's.
    pub publish: Vec<Publish>,
    /// `--dns`: the name servers of /etc/resolv.conf (IPv4 addresses, checked),
    /// instead of the host's.
    pub dns: Vec<String>,
    /// Use the chroot fallback even where pivot_root would work.
    pub no_pivot: bool,
    /// `--cap-add`, `--cap-drop`: what the command may hold.
    pub capabilities: crate::capabilities::Capabilities,
    pub devices: Vec<Device>,
    /// `--seccomp`: the syscall filter.
    pub seccomp: crate::seccomp::Choice,
}

#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Limits {
    pub memory_bytes: Option<u64>,
    /// CFS quota in microseconds per `CPU_PERIOD_US`.
    pub cpu_quota_us: Option<u64>,
    pub pids: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Net {
    /// A new network namespace with only loopback, brought up.
    None,
    /// The host's network namespace.
    Host,
    /// A new network namespace on the bridge, through a veth pair.
    Bridge,
    /// The network namespace of another running container (`Spec::net_of`).
    Container,
}

/// `--publish [HOSTIP:]HOSTPORT:PORT[/tcp|udp]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Publish {
    /// Where the host listens; 0.0.0.0 for every address.
    pub host_ip: std::net::Ipv4Addr,
    pub host_port: u16,
    pub port: u16,
    pub udp: bool,
}

/// `--device HOST[:CONTAINER][:PERMS]`: a host device node given to the container.
#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    pub host: PathBuf,
    /// Where the container sees it: HOST's path unless given.
    pub path: PathBuf,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    pub source: PathBuf,
    pub dest: PathBuf,
    pub read_only: bool,
}

/// `--user`: ids are used as they are; names are looked up in the container's
/// /etc/passwd and /etc/group once its root is in place.
#[derive(Debug, Clone, PartialEq)]
pub enum Id {
    Num(u32),
    Name(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub user: Id,
    pub group: Option<Id>,
}

/// Validates run options into a `Spec`. Every message starts with the flag it is
/// about (`--memory "12x": ...`), which config files relabel with their key.
/// `host_env` passes `--env KEY` values through; `online_cpus` bounds `--cpus`.
pub fn build(
    name: String,
    a: &Options,
    host_env: impl Fn(&str) -> Option<String>,
    online_cpus: u64,
) -> Result<Spec> {
    validate_name(&name)?;
    let hostname = match a.value("--hostname") {
        Some(h) => {
            validate_hostname(h)?;
            h.to_string()
        }
        None => name.replace(['_', '.'], "-"),
    };
    let limits = Limits {
        memory_bytes: a.value("--memory").map(parse_memory).transpose()?,
        cpu_quota_us: a
            .value("--cpus")
            .map(|c| parse_cpus(c, online_cpus))
            .transpose()?,
        pids: a.value("--pids").map(parse_pids).transpose()?,
    };
    let mut env = Vec::new();
    for e in a.values("--env") {
        env.extend(parse_env(&e, &host_env)?);
    }
    if a.command.first().is_some_and(|c| c.is_empty()) {
        return Err(Error::new("the command is an empty string")
            .hint("give a command after --, or none for the template's default"));
    }
    let read_only = a.switch("--read-only");
    let overlay = a.value("--overlay");
    if read_only && overlay.is_some() {
        return Err(
            Error::new("--read-only and --overlay contradict each other")
                .hint("--overlay keeps the container's writes; --read-only allows none"),
        );
    }
    if overlay == Some("") {
        return Err(
            Error::new("--overlay is empty").hint("give the directory for the container's changes")
        );
    }
    let (net, net_of) = match a.value("--net").map(|n| (n, n.strip_prefix("container:"))) {
        None => (Net::None, None),
        Some((_, Some(other))) => {
            EXEC.need("--net container:NAME")?;
            validate_name(other).map_err(|e| {
                let what = format!("--net container:{other}: {}", e.what());
                e.reword(what)
            })?;
            (Net::Container, Some(other.to_string()))
        }
        Some((n, None)) => (parse_net(n)?, None),
    };
    // Only a build with the bridge reads its options: elsewhere they were refused
    // by name, and their parsers are left out.
    let (ip, publish) = if BRIDGE.built {
        let ip = a.value("--ip").map(parse_ip).transpose()?;
        (ip, parse_publishes(&a.values("--publish"))?)
    } else {
        (None, Vec::new())
    };
    if ip.is_some() && net != Net::Bridge {
        return Err(
            Error::new("--ip is for --net bridge").hint("add --net bridge, or leave out --ip")
        );
    }
    let dns = a.values("--dns");
    for d in &dns {
        check_dns(d)?;
    }
    if !publish.is_empty() && net != Net::Bridge {
        return Err(Error::new("--publish is for --net bridge").hint(
            "add --net bridge: published ports are forwarded to the container's bridge address",
        ));
    }
    let volumes = a.values("--volume");
    Ok(Spec {
        name,
        rootfs: a.rootfs.clone(),
        command: to_cstrings(&a.command)?,
        env,
        hostname,
        workdir: a.value("--workdir").map(parse_workdir).transpose()?,
        user: a.value("--user").map(parse_user).transpose()?,
        limits,
        volumes: volumes
            .iter()
            .map(|v| parse_volume(v))
            .collect::<Result<_>>()?,
        read_only,
        overlay: overlay.map(PathBuf::from),
        net,
        ip,
        net_of,
        publish,
        dns,
        no_pivot: a.switch("--no-pivot"),
        capabilities: crate::capabilities::from_options(
            &a.values("--cap-add"),
            &a.values("--cap-drop"),
        )?,
        devices: a
            .values("--device")
            .iter()
            .map(|d| parse_device(d))
            .collect::<Result<_>>()?,
        // A build without seccomp has refused the option already.
        seccomp: match a.value("--seccomp") {
            Some(v) if crate::features::SECCOMP.built => crate::seccomp::Choice::parse(v)?,
            _ => crate::seccomp::Choice::default(),
        },
    })
}

/// What the command runs with: the user's options, else the image's defaults (from
/// its manifest), else /bin/sh in /. The image's environment comes first, so the
/// user's --env entries win.
pub struct Process {
    pub argv: Vec<CString>,
    pub env: Vec<CString>,
    pub workdir: CString,
}

pub fn process(spec: &Spec, image: &Defaults) -> Result<Process> {
    let from = || match &image.source {
        Some(path) => format!("manifest {}", path.display()),
        None => "the image".to_string(),
    };
    let argv = if !spec.command.is_empty() {
        spec.command.clone()
    } else if !image.command.is_empty() {
        to_cstrings(&image.command).map_err(|e| e.hint(format!("fix the command in {}", from())))?
    } else {
        vec![CString::from(c"/bin/sh")]
    };
    if argv.first().is_some_and(|a| a.is_empty()) {
        return Err(
            Error::new(format!("the command of {} is an empty string", from()))
                .hint("fix the manifest, or give a command after --"),
        );
    }
    let mut env = Vec::with_capacity(image.env.len() + spec.env.len());
    for entry in &image.env {
        let key = entry.split_once('=').map(|(k, _)| k).unwrap_or_default();
        let c = CString::new(entry.as_str())
            .ok()
            .filter(|_| !key.is_empty());
        env.push(c.ok_or_else(|| {
            Error::new(format!(
                "{}: env entry {entry_q} is not KEY=VALUE",
                from(),
                entry_q = crate::error::quoted(entry)
            ))
            .hint("fix the manifest's env")
        })?);
    }
    env.extend(spec.env.iter().cloned());
    let workdir = match (&spec.workdir, &image.workdir) {
        (Some(w), _) => w.clone(),
        (None, Some(w)) => {
            parse_workdir(w).map_err(|e| e.hint(format!("fix the workdir in {}", from())))?
        }
        (None, None) => CString::from(c"/"),
    };
    Ok(Process { argv, env, workdir })
}

/// Every parser of outside input, run on many arbitrary strings: none may panic
/// (release builds abort on panic, silently).
#[cfg(test)]
mod never_panics {
    use super::*;

    /// xorshift64: reproducible, and no dependency.
    fn strings(count: usize) -> impl Iterator<Item = String> {
        let alphabet: Vec<char> = "0123456789kmgKMGbt.-+:/=,\\ \t\n\0aZé中\u{7f}"
            .chars()
            .collect();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..count).map(move |_| {
            let len = (next() % 24) as usize;
            (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect()
        })
    }

    #[test]
    fn parsers_of_command_line_and_file_input_never_panic() {
        for s in strings(30_000) {
            let _ = parse_size("x", &s);
            let _ = parse_memory(&s);
            let _ = parse_cpus(&s, 2);
            let _ = parse_pids(&s);
            let _ = validate_name(&s);
            let _ = validate_hostname(&s);
            let _ = parse_env(&s, |_| Some(s.clone()));
            let _ = parse_volume(&s);
            let _ = parse_user(&s);
            let _ = parse_net(&s);
            let _ = parse_workdir(&s);
            let _ = parse_device(&s);
            let _ = crate::seccomp::Choice::parse(&s);
            let one = std::slice::from_ref(&s);
            let _ = crate::capabilities::from_options(one, one);
            let _ = crate::cgroup::layout::unescape(&s);
            let _ = crate::cgroup::layout::parse_mountinfo(&s);
            let _ = crate::process::resolve_user_in(None, &s, &s);
            let _ = crate::template::parse_sha256(&s);
            if let Ok(doc) = crate::json::parse_object(s.as_bytes(), std::path::Path::new("x"), "x")
            {
                let _ = (doc.string("name"), doc.strings("env"));
            }
        }
    }
}
