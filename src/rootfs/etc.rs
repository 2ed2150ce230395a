//! /etc/hostname, /etc/hosts and /etc/resolv.conf for the chosen network mode. The
//! contents are worked out on the host before the container exists; the container's
//! first process writes them to its scratch space and binds them into place.

use crate::spec::Net;

pub struct EtcFiles {
    pub hostname: String,
    pub hosts: String,
    pub resolv_conf: String,
}

/// Host files are read only in `--net host` mode, where the container shares them.
pub fn etc_files(hostname: &str, net: Net, read_host: impl Fn(&str) -> Option<String>) -> EtcFiles {
    let own_name = format!("127.0.1.1\t{hostname}\n");
    let (hosts, resolv_conf) = match net {
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
    EtcFiles {
        hostname: format!("{hostname}\n"),
        hosts,
        resolv_conf,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_network_maps_localhost_and_the_hostname_and_lists_no_name_server() {
        let f = etc_files("box", Net::None, |_| panic!("must not read host files"));
        assert_eq!(f.hostname, "box\n");
        assert!(f.hosts.contains("127.0.0.1\tlocalhost\n") && f.hosts.contains("\tbox\n"));
        assert!(!f.resolv_conf.contains("nameserver"));
    }

    #[test]
    fn host_network_shares_the_hosts_name_servers_and_adds_the_hostname() {
        let f = etc_files("box", Net::Host, |p| match p {
            "/etc/resolv.conf" => Some("nameserver 10.9.8.7\n".into()),
            "/etc/hosts" => Some("10.0.0.1 gateway".into()),
            _ => None,
        });
        assert_eq!(f.resolv_conf, "nameserver 10.9.8.7\n");
        assert_eq!(f.hosts, "10.0.0.1 gateway\n127.0.1.1\tbox\n");
    }
}
