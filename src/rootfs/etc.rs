//! /etc/hostname, /etc/hosts and /etc/resolv.conf for the chosen network mode. The
//! contents are worked out on the host before the container exists; the container's
//! init puts them in place, resolving each path inside the root.

use super::resolve::{resolve, Create};
use crate::error::{Context, Error, Result};
use crate::spec::Net;
use nix::errno::Errno;
use nix::mount::MsFlags;
use std::io::Write;
use std::os::fd::BorrowedFd;
use std::path::Path;

pub struct EtcFiles {
    pub hostname: String,
    pub hosts: String,
    pub resolv_conf: String,
}

/// Host files are read in `--net host` mode, where the container shares them, and for
/// the name servers of `--net bridge` (`addr` is then the container's address). Name
/// servers given with `--dns` replace the host's in every mode.
pub fn etc_files(
    hostname: &str,
    net: Net,
    addr: Option<std::net::Ipv4Addr>,
    dns: &[String],
    read_host: impl Fn(&str) -> Option<String>,
) -> EtcFiles {
    let own_name = format!("127.0.1.1\t{hostname}\n");
    let (hosts, resolv_conf) = match net {
        Net::Bridge | Net::Container => (
            format!(
                "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n{}\t{hostname}\n",
                addr.map_or("127.0.1.1".to_string(), |a| a.to_string())
            ),
            bridged_resolv_conf(&read_host("/etc/resolv.conf").unwrap_or_default()),
        ),
        Net::None => (
            format!("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n{own_name}"),
            "# qing: --net none, only loopback is up: no name servers\n".to_string(),
        ),
        Net::Host => {
            let mut hosts = read_host("/etc/hosts")
                .unwrap_or_else(|| "127.0.0.1\tlocalhost\n::1\tlocalhost\n".to_string());
            if !hosts.ends_with('\n') {
                hosts.push('\n');
            }
            hosts.push_str(&own_name);
            (hosts, read_host("/etc/resolv.conf").unwrap_or_default())
        }
    };
    let resolv_conf = if dns.is_empty() {
        resolv_conf
    } else {
        dns.iter().map(|a| format!("nameserver {a}\n")).collect()
    };
    EtcFiles {
        hostname: format!("{hostname}\n"),
        hosts,
        resolv_conf,
    }
}

/// The host's resolv.conf less its loopback name servers (a local resolver such as
/// systemd-resolved or dnsmasq listens on the host's loopback, which the container's
/// is not).
fn bridged_resolv_conf(host: &str) -> String {
    let loopback = |l: &str| {
        l.strip_prefix("nameserver")
            .map(str::trim)
            .is_some_and(|a| a.starts_with("127.") || a == "::1")
    };
    let mut text: String = host
        .lines()
        .filter(|l| !loopback(l))
        .map(|l| format!("{l}\n"))
        .collect();
    if !text.lines().any(|l| l.starts_with("nameserver")) {
        text.push_str("# qing: the host has no name server a container can reach\n");
    }
    text
}

impl EtcFiles {
    fn entries(&self) -> [(&'static str, &str); 3] {
        [
            ("hostname", &self.hostname),
            ("hosts", &self.hosts),
            ("resolv.conf", &self.resolv_conf),
        ]
    }
}

/// A writable root gets the files written into its writable layer (no mount to make
/// or to tear down); a read-only one gets them bound from the scratch tmpfs over the
/// files it has, and goes without those it lacks.
pub fn place(files: &EtcFiles, root: BorrowedFd, writable: bool, scratch: &Path) -> Result<()> {
    let create = if writable {
        Create::DirsThenFile
    } else {
        Create::Nothing
    };
    for (name, content) in files.entries() {
        let target = match resolve(root, &Path::new("/etc").join(name), create) {
            Ok(t) => t,
            Err(e) if !writable && e.errno() == Some(Errno::ENOENT) => continue,
            Err(e) => return Err(e),
        };
        if !target.is_file {
            return Err(
                Error::new(format!("the rootfs's /etc/{name} is not a regular file")).hint(
                    format!("make /etc/{name} a file in the rootfs, or remove it"),
                ),
            );
        }
        if writable {
            // Through the resolved descriptor, so no symlink is followed again.
            let flags = nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_TRUNC;
            let mut file = crate::sys::open_file(Path::new(&target.proc_path()), flags, 0)
                .context(|| format!("open /etc/{name} in the container"))?;
            file.write_all(content.as_bytes())
                .context(|| format!("write /etc/{name} in the container"))?;
        } else {
            let source = scratch.join(format!("etc-{name}"));
            crate::sys::create_file(&source, content.as_bytes(), 0o644).at("write", &source)?;
            crate::mount::mount_from(
                &source,
                Path::new(target.proc_path().as_str()),
                MsFlags::MS_BIND,
            )
            .context(|| format!("bind /etc/{name}"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_network_maps_localhost_and_the_hostname_and_lists_no_name_server() {
        let f = etc_files("box", Net::None, None, &[], |_| {
            panic!("must not read host files")
        });
        assert_eq!(f.hostname, "box\n");
        assert!(f.hosts.contains("127.0.0.1\tlocalhost\n") && f.hosts.contains("\tbox\n"));
        assert!(!f.resolv_conf.contains("nameserver"));
    }

    #[test]
    fn host_network_shares_the_hosts_name_servers_and_adds_the_hostname() {
        let f = etc_files("box", Net::Host, None, &[], |p| match p {
            "/etc/resolv.conf" => Some("nameserver 10.9.8.7\n".into()),
            "/etc/hosts" => Some("10.0.0.1 gateway".into()),
            _ => None,
        });
        assert_eq!(f.resolv_conf, "nameserver 10.9.8.7\n");
        assert_eq!(f.hosts, "10.0.0.1 gateway\n127.0.1.1\tbox\n");
    }

    #[test]
    fn a_bridged_container_maps_its_own_address_and_keeps_only_reachable_name_servers() {
        let addr = Some(std::net::Ipv4Addr::new(10, 199, 0, 7));
        let f = etc_files("box", Net::Bridge, addr, &[], |p| match p {
            "/etc/resolv.conf" => {
                Some("search lan\nnameserver 127.0.0.53\nnameserver 10.9.8.7\n".into())
            }
            _ => None,
        });
        assert!(f.hosts.contains("10.199.0.7\tbox\n"), "{}", f.hosts);
        assert_eq!(f.resolv_conf, "search lan\nnameserver 10.9.8.7\n");
        let f = etc_files("box", Net::Bridge, addr, &[], |_| {
            Some("nameserver 127.0.0.53\n".into())
        });
        assert!(!f.resolv_conf.contains("nameserver"), "{}", f.resolv_conf);
    }
}
