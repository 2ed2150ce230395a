//! The parsers of run options: each takes the text a user gave and returns a checked
//! value, or an error whose message starts with the flag it is about and says what to
//! give instead. No system calls.

use super::{Device, Id, Net, Publish, User, Volume, CPU_PERIOD_US, MIN_MEMORY};
use crate::error::{Error, Result};
use std::ffi::CString;
use std::path::PathBuf;

/// Sizes: plain bytes or k, m, g (1024-based, any case); `what` names the option.
pub fn parse_size(what: &str, s: &str) -> Result<u64> {
    let bad = || {
        Error::new(format!(
            "{what} {s_q}: not a size",
            s_q = crate::error::quoted(s)
        ))
        .hint("give bytes or a number with k, m or g, like 64m or 1g")
    };
    let (digits, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c.to_ascii_lowercase()),
        _ => (s, 'b'),
    };
    let shift = match unit {
        'b' => 0,
        'k' => 10,
        'm' => 20,
        'g' => 30,
        _ => return Err(bad()),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    n.checked_mul(1u64 << shift).ok_or_else(|| {
        Error::new(format!(
            "{what} {s_q}: too large",
            s_q = crate::error::quoted(s)
        ))
    })
}

/// The shortest way `parse_size` reads back: 16m, 1536k, 1g, 1000.
pub fn format_size(bytes: u64) -> String {
    for (unit, shift) in [("g", 30), ("m", 20), ("k", 10)] {
        if bytes != 0 && bytes.is_multiple_of(1 << shift) {
            return format!("{}{unit}", bytes >> shift);
        }
    }
    bytes.to_string()
}

pub fn parse_memory(s: &str) -> Result<u64> {
    let bytes = parse_size("--memory", s)?;
    if bytes < MIN_MEMORY {
        return Err(Error::new(format!(
            "--memory {s}: below the 2m a container needs to start"
        ))
        .hint("give at least 2m"));
    }
    Ok(bytes)
}

/// `--cpus 1.5` becomes a CFS quota; parsed as a decimal with up to three places so
/// that no float parser is linked in.
pub fn parse_cpus(s: &str, online_cpus: u64) -> Result<u64> {
    let bad = || {
        Error::new(format!(
            "--cpus {s_q}: not a positive number of CPUs",
            s_q = crate::error::quoted(s)
        ))
        .hint("give a decimal like 0.5 or 2")
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty()
        || frac.len() > 3
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        || int.len() > 6
    {
        return Err(bad());
    }
    let whole: u64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| bad())?
    };
    let mut millis = whole * 1000;
    let mut scale = 100;
    for b in frac.bytes() {
        millis += u64::from(b - b'0') * scale;
        scale /= 10;
    }
    if millis < 10 {
        return Err(
            Error::new(format!("--cpus {s}: below the smallest quota, 0.01 CPU"))
                .hint("give 0.01 or more"),
        );
    }
    if millis > online_cpus * 1000 {
        return Err(
            Error::new(format!("--cpus {s}: this machine has {online_cpus} CPUs"))
                .hint(format!("give at most {online_cpus}")),
        );
    }
    Ok(millis * CPU_PERIOD_US / 1000)
}

pub fn parse_pids(s: &str) -> Result<u64> {
    match s.parse::<u64>() {
        Ok(n) if n >= 1 && s.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(Error::new(format!(
            "--pids {s_q}: not a positive whole number of processes",
            s_q = crate::error::quoted(s)
        ))
        .hint("give 1 or more, like --pids 64")),
    }
}

/// Names become directory and cgroup names: keep them to a safe, portable alphabet.
pub fn validate_name(s: &str) -> Result<()> {
    if !crate::name::is_valid(s) {
        return Err(Error::new(format!(
            "--name {s_q}: not a valid container name",
            s_q = crate::error::quoted(s)
        ))
        .hint(crate::name::RULE));
    }
    Ok(())
}

pub fn validate_hostname(s: &str) -> Result<()> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !ok {
        return Err(Error::new(format!(
            "--hostname {s_q}: not a valid host name",
            s_q = crate::error::quoted(s)
        ))
        .hint("use letters, digits and '-' in dot-separated labels, 64 characters at most"));
    }
    Ok(())
}

/// `KEY=VALUE`, or `KEY` alone to pass the host's value through (as docker does).
pub fn parse_env(
    s: &str,
    host_value: impl FnOnce(&str) -> Option<String>,
) -> Result<Option<CString>> {
    let (key, value) = match s.split_once('=') {
        Some((k, v)) => (k, Some(v.to_string())),
        None => (s, None),
    };
    if key.is_empty() || s.contains('\0') {
        return Err(Error::new(format!(
            "--env {s_q}: not KEY=VALUE",
            s_q = crate::error::quoted(s)
        ))
        .hint("give a non-empty key, like --env LANG=C.UTF-8"));
    }
    let Some(value) = value.or_else(|| host_value(key)) else {
        return Ok(None);
    };
    Ok(CString::new(format!("{key}={value}")).ok())
}

/// `SRC:DST[:ro|:rw]`: a host path bound at an absolute path inside the container.
pub fn parse_volume(s: &str) -> Result<Volume> {
    let bad = |why: &str| {
        Error::new(format!(
            "--volume {s_q}: {why}",
            s_q = crate::error::quoted(s)
        ))
        .hint("give SRC:DST[:ro] with absolute paths, like /srv/data:/data:ro")
    };
    let mut parts = s.split(':');
    let (Some(src), Some(dst)) = (parts.next(), parts.next()) else {
        return Err(bad(
            "missing ':' between the host path and the container path",
        ));
    };
    let read_only = match parts.next() {
        None | Some("rw") => false,
        Some("ro") => true,
        Some(other) => {
            return Err(bad(&format!(
                "unknown mode {other_q} (ro or rw)",
                other_q = crate::error::quoted(other)
            )))
        }
    };
    if parts.next().is_some() {
        return Err(bad("too many ':'"));
    }
    if !src.starts_with('/') {
        return Err(bad("the host path must be absolute"));
    }
    if !dst.starts_with('/') {
        return Err(bad("the container path must be absolute"));
    }
    if dst
        .split('/')
        .all(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(bad("cannot mount over the container's root"));
    }
    if s.contains('\0') {
        return Err(bad("contains a NUL byte"));
    }
    Ok(Volume {
        source: PathBuf::from(src),
        dest: PathBuf::from(dst),
        read_only,
    })
}

/// `HOST[:CONTAINER][:PERMS]`, as docker reads it: with two parts, the second is
/// PERMS if it is made of r, w and m, else CONTAINER.
pub fn parse_device(s: &str) -> Result<Device> {
    let bad = |why: &str| {
        Error::new(format!(
            "--device {s_q}: {why}",
            s_q = crate::error::quoted(s)
        ))
        .hint("give HOST[:CONTAINER][:rwm] with absolute paths, like /dev/ttyUSB0:/dev/ttyS1")
    };
    let is_perms = |p: &str| !p.is_empty() && p.bytes().all(|b| matches!(b, b'r' | b'w' | b'm'));
    let parts: Vec<&str> = s.split(':').collect();
    let (host, path, perms) = match parts.as_slice() {
        [host] => (*host, *host, "rwm"),
        [host, p] if is_perms(p) => (*host, *host, *p),
        [host, path] => (*host, *path, "rwm"),
        [host, path, perms] => (*host, *path, *perms),
        _ => return Err(bad("too many ':'")),
    };
    if !is_perms(perms) {
        return Err(bad("PERMS is made of r, w and m"));
    }
    // Without a device cgroup nothing could hold the container to less: refused
    // rather than given more than asked.
    if !(perms.contains('r') && perms.contains('w')) {
        return Err(bad(&format!(
            "qing gives a device for reading and writing; {perms} alone cannot be enforced (that needs a device cgroup, which qing does not set up)"
        )));
    }
    if !host.starts_with('/') || !path.starts_with('/') {
        return Err(bad("the paths must be absolute"));
    }
    if path.split('/').any(|c| c == "..") || path.trim_end_matches('/') == "/dev" {
        return Err(bad("CONTAINER must name a node, without '..'"));
    }
    if path.split('/').all(|c| c.is_empty() || c == ".") {
        return Err(bad("cannot put a device on the container's root"));
    }
    if s.contains('\0') {
        return Err(bad("contains a NUL byte"));
    }
    Ok(Device {
        host: PathBuf::from(host),
        path: PathBuf::from(path),
    })
}

/// `UID[:GID]`, where either side may also be a name from the container's files.
pub fn parse_user(s: &str) -> Result<User> {
    let id = |part: &str| -> Result<Id> {
        if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
            // 4294967295 is (uid_t)-1, which setresuid reads as "leave unchanged".
            return match part.parse::<u32>() {
                Ok(n) if n != u32::MAX => Ok(Id::Num(n)),
                _ => Err(Error::new(format!(
                    "--user {s_q}: id {part} is out of range",
                    s_q = crate::error::quoted(s)
                ))
                .hint("ids go from 0 to 4294967294")),
            };
        }
        let name_ok = part
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && part.len() <= 32
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        if name_ok {
            Ok(Id::Name(part.to_string()))
        } else {
            Err(Error::new(format!(
                "--user {s_q}: not a user id or name",
                s_q = crate::error::quoted(s)
            ))
            .hint("give UID[:GID], like 1000:1000, or names from the container's /etc/passwd"))
        }
    };
    let (user, group) = match s.split_once(':') {
        Some((u, g)) => (id(u)?, Some(id(g)?)),
        None => (id(s)?, None),
    };
    Ok(User { user, group })
}

pub fn parse_net(s: &str) -> Result<Net> {
    match s {
        "none" => Ok(Net::None),
        "host" => Ok(Net::Host),
        "bridge" => crate::features::BRIDGE
            .need("--net bridge")
            .map(|()| Net::Bridge),
        _ => Err(Error::new(format!(
            "--net {s_q}: unknown network mode",
            s_q = crate::error::quoted(s)
        ))
        .hint("use none, host, bridge or container:NAME")),
    }
}

/// `--ip`: a dotted IPv4 address; whether it fits the bridge is checked on lease.
pub fn parse_ip(s: &str) -> Result<std::net::Ipv4Addr> {
    s.parse().map_err(|_| {
        Error::new(format!(
            "--ip {s_q}: not an IPv4 address",
            s_q = crate::error::quoted(s)
        ))
        .hint("give a dotted address on the bridge's subnet, like 10.199.0.20")
    })
}

/// Every `--publish`, with no host address, port and protocol given twice.
pub fn parse_publishes(all: &[String]) -> Result<Vec<Publish>> {
    let mut parsed: Vec<Publish> = Vec::new();
    for s in all {
        let p = parse_publish(s)?;
        let clash = |q: &&Publish| {
            q.host_port == p.host_port
                && q.udp == p.udp
                && (q.host_ip == p.host_ip
                    || q.host_ip.is_unspecified()
                    || p.host_ip.is_unspecified())
        };
        if parsed.iter().any(|q| clash(&q)) {
            return Err(Error::new(format!(
                "--publish {s_q}: host port {} is published twice",
                p.host_port,
                s_q = crate::error::quoted(s)
            ))
            .hint("give each host port once"));
        }
        parsed.push(p);
    }
    Ok(parsed)
}

/// `--publish [HOSTIP:]HOSTPORT:PORT[/tcp|udp]`; ports 1 to 65535.
pub fn parse_publish(s: &str) -> Result<Publish> {
    let bad = |why: &str| {
        Error::new(format!(
            "--publish {s_q}: {why}",
            s_q = crate::error::quoted(s)
        ))
        .hint("give [HOSTIP:]HOSTPORT:PORT[/tcp|udp], like 8080:80 or 127.0.0.1:5353:53/udp")
    };
    let (ports, udp) = match s.rsplit_once('/') {
        None => (s, false),
        Some((ports, "tcp")) => (ports, false),
        Some((ports, "udp")) => (ports, true),
        Some(_) => return Err(bad("the protocol is not tcp or udp")),
    };
    let parts: Vec<&str> = ports.split(':').collect();
    let (host_ip, host_port, port) = match parts[..] {
        [h, c] => (std::net::Ipv4Addr::UNSPECIFIED, h, c),
        [ip, h, c] => (
            ip.parse()
                .map_err(|_| bad("the host address is not IPv4"))?,
            h,
            c,
        ),
        _ => return Err(bad("not HOSTPORT:PORT")),
    };
    let port_number = |p: &str| {
        p.parse::<u16>()
            .ok()
            .filter(|n| *n > 0 && p.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                bad(&format!(
                    "{p_q} is not a port (1 to 65535)",
                    p_q = crate::error::quoted(p)
                ))
            })
    };
    Ok(Publish {
        host_ip,
        host_port: port_number(host_port)?,
        port: port_number(port)?,
        udp,
    })
}

/// `--dns`: a name server's IPv4 address.
pub fn check_dns(s: &str) -> Result<()> {
    match s.parse::<std::net::Ipv4Addr>() {
        Ok(_) => Ok(()),
        Err(_) => Err(Error::new(format!(
            "--dns {s_q}: not an IPv4 address",
            s_q = crate::error::quoted(s)
        ))
        .hint("give a name server's address, like --dns 10.199.0.1")),
    }
}

pub fn parse_workdir(s: &str) -> Result<CString> {
    if !s.starts_with('/') || s.contains('\0') {
        return Err(Error::new(format!(
            "--workdir {s_q}: not an absolute path",
            s_q = crate::error::quoted(s)
        ))
        .hint("give an absolute path inside the container, like /srv"));
    }
    CString::new(s).map_err(|_| Error::new("--workdir contains a NUL byte"))
}

pub fn to_cstrings(args: &[String]) -> Result<Vec<CString>> {
    args.iter()
        .map(|a| {
            CString::new(a.as_str()).map_err(|_| {
                Error::new(format!(
                    "argument {a_q} contains a NUL byte",
                    a_q = crate::error::quoted(a)
                ))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_accept_bytes_and_1024_based_suffixes_in_any_case() {
        assert_eq!(parse_size("x", "4096").unwrap(), 4096);
        assert_eq!(parse_size("x", "4k").unwrap(), 4096);
        assert_eq!(parse_size("x", "64M").unwrap(), 64 << 20);
        assert_eq!(parse_size("x", "1g").unwrap(), 1 << 30);
        assert_eq!(parse_size("x", "2G").unwrap(), 2 << 30);
    }

    #[test]
    fn sizes_reject_unknown_suffixes_signs_and_overflow() {
        for bad in [
            "12x",
            "",
            "m",
            "-1",
            "+5",
            "1.5m",
            " 1m",
            "1mb",
            "99999999999999999999",
            "16777216t",
        ] {
            assert!(
                parse_size("--memory", bad).is_err(),
                "{bad} should be rejected"
            );
        }
        assert!(
            parse_size("x", "17179869184g").is_err(),
            "overflow must be an error"
        );
    }

    #[test]
    fn sizes_print_back_in_the_largest_whole_unit() {
        for s in ["16m", "1536k", "2g", "1000", "0"] {
            assert_eq!(format_size(parse_size("x", s).unwrap()), s);
        }
    }

    #[test]
    fn memory_below_the_start_minimum_is_rejected() {
        assert!(parse_memory("1m").is_err());
        assert_eq!(parse_memory("2m").unwrap(), 2 << 20);
    }

    #[test]
    fn cpus_become_a_cfs_quota() {
        assert_eq!(parse_cpus("1", 2).unwrap(), 100_000);
        assert_eq!(parse_cpus("0.5", 2).unwrap(), 50_000);
        assert_eq!(parse_cpus(".25", 2).unwrap(), 25_000);
        assert_eq!(parse_cpus("1.125", 2).unwrap(), 112_500);
        assert_eq!(parse_cpus("2", 2).unwrap(), 200_000);
    }

    #[test]
    fn cpus_reject_negative_zero_garbage_and_more_than_the_machine_has() {
        for bad in [
            "-1", "0", "0.001", "abc", "", ".", "1.2345", "1e3", "3", "1,5", "nan",
        ] {
            assert!(parse_cpus(bad, 2).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn pids_must_be_a_positive_integer() {
        assert_eq!(parse_pids("64").unwrap(), 64);
        for bad in ["0", "-3", "", "1.5", "+4", "ten"] {
            assert!(parse_pids(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn volumes_need_absolute_paths_and_know_ro() {
        let v = parse_volume("/srv:/data:ro").unwrap();
        assert_eq!(
            (v.source.to_str(), v.dest.to_str(), v.read_only),
            (Some("/srv"), Some("/data"), true)
        );
        assert!(!parse_volume("/srv:/data").unwrap().read_only);
        assert!(!parse_volume("/srv:/data:rw").unwrap().read_only);
        for bad in [
            "/srv",
            "/srv:data",
            "srv:/data",
            "/srv:/data:xx",
            "/a:/b:ro:x",
            "/a:/",
            "/a:/..",
            ":/x",
        ] {
            assert!(parse_volume(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn env_takes_key_value_or_passes_a_host_value_through() {
        let e = parse_env("A=b=c", |_| None).unwrap().unwrap();
        assert_eq!(e.to_str().unwrap(), "A=b=c");
        let e = parse_env("HOME", |k| Some(format!("host-{k}")))
            .unwrap()
            .unwrap();
        assert_eq!(e.to_str().unwrap(), "HOME=host-HOME");
        assert!(parse_env("UNSET", |_| None).unwrap().is_none());
        assert!(parse_env("=x", |_| None).is_err());
    }

    #[test]
    fn users_are_ids_or_names() {
        assert_eq!(
            parse_user("1000").unwrap(),
            User {
                user: Id::Num(1000),
                group: None
            }
        );
        assert_eq!(
            parse_user("app:7").unwrap(),
            User {
                user: Id::Name("app".into()),
                group: Some(Id::Num(7))
            }
        );
        for bad in [
            "",
            ":",
            "1000:",
            "-1",
            "a b",
            "99999999999",
            "1:x/y",
            "4294967295",
            "0:4294967295",
        ] {
            assert!(parse_user(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn names_and_hostnames_keep_to_a_safe_alphabet() {
        assert!(validate_name("web-1.a_b").is_ok());
        for bad in ["", "-x", ".x", "a/b", "a b", "..", &"x".repeat(65)] {
            assert!(validate_name(bad).is_err(), "{bad} should be rejected");
        }
        assert!(validate_hostname("box.local").is_ok());
        for bad in ["", "a..b", "-a", "a_b", &"x".repeat(65)] {
            assert!(validate_hostname(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn devices_read_as_docker_reads_them() {
        let d = |s: &str| parse_device(s).map(|d| (d.host, d.path));
        let p = |a: &str, b: &str| (PathBuf::from(a), PathBuf::from(b));
        assert_eq!(d("/dev/ttyS0").unwrap(), p("/dev/ttyS0", "/dev/ttyS0"));
        // Two parts: the second is PERMS when it is made of r, w and m.
        assert_eq!(d("/dev/ttyS0:rw").unwrap(), p("/dev/ttyS0", "/dev/ttyS0"));
        assert_eq!(
            d("/dev/ttyS0:/dev/uart").unwrap(),
            p("/dev/ttyS0", "/dev/uart")
        );
        assert_eq!(d("/dev/a:/dev/b:rwm").unwrap(), p("/dev/a", "/dev/b"));
        for bad in [
            "",
            "/dev/a:",
            "/dev/a:/dev/b:",
            "/dev/a:/dev/b:q",
            "/dev/a:r",
            "/dev/a:/dev/b:wm",
            "/dev/a:/",
            "/dev/a:/dev",
            "/dev/a:/x/../y",
            "a:/b",
            "/a:/b:rw:x",
        ] {
            assert!(parse_device(bad).is_err(), "{bad} should be refused");
        }
    }
}
