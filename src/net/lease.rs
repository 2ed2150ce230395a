//! Addresses on the bridge's subnet: the subnet itself, and the lease file that says
//! which container holds which address.
//!
//! The leases are one small text file per bridge in qing's runtime directory, a line
//! `ADDRESS NAME` each, rewritten atomically under a lock. A lease whose container no
//! longer holds its name (its claim went with it, however it ended) is free again.

use crate::error::{Context, Error, Result};
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// An IPv4 subnet: the bridge has its first address, containers the rest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Subnet {
    pub network: u32,
    pub prefix: u8,
}

impl Subnet {
    /// `A.B.C.D/N`, N from 8 to 30: room for the bridge and at least one container.
    pub fn parse(s: &str) -> Result<Subnet> {
        let bad = || {
            Error::new(format!(
                "subnet {s_q}: not an IPv4 subnet",
                s_q = crate::error::quoted(s)
            ))
            .hint("give ADDRESS/PREFIX with a prefix from 8 to 30, like 10.199.0.0/24")
        };
        let (addr, prefix) = s.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        if !(8..=30).contains(&prefix) {
            return Err(bad());
        }
        let network = u32::from(addr) & mask(prefix);
        Ok(Subnet { network, prefix })
    }

    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.network + 1)
    }

    fn broadcast(&self) -> u32 {
        self.network | !mask(self.prefix)
    }

    /// Whether a container may have `addr`: inside, and neither the network, the
    /// bridge's address nor the broadcast address.
    pub fn assignable(&self, addr: Ipv4Addr) -> bool {
        let a = u32::from(addr);
        a & mask(self.prefix) == self.network && a > self.network + 1 && a < self.broadcast()
    }

    /// The container addresses, in order.
    fn hosts(&self) -> impl Iterator<Item = Ipv4Addr> {
        (self.network + 2..self.broadcast()).map(Ipv4Addr::from)
    }

    /// The offset of `addr` in the subnet: it names the container's veth.
    pub fn offset(&self, addr: Ipv4Addr) -> u32 {
        u32::from(addr).wrapping_sub(self.network)
    }
}

impl std::fmt::Display for Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.network), self.prefix)
    }
}

fn mask(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

/// The lease file of one bridge.
pub struct Leases {
    path: PathBuf,
}

pub struct Lease {
    pub name: String,
    pub addr: Ipv4Addr,
}

impl Leases {
    pub fn of(run: &Path, bridge: &str) -> Leases {
        Leases {
            path: run.join("net").join(format!("{bridge}.leases")),
        }
    }

    /// Serializes the qing processes that lease on this bridge (and make it): held
    /// until the returned file is closed.
    pub fn lock(&self) -> Result<std::fs::File> {
        let path = self.path.with_extension("lock");
        let dir = path.parent().unwrap_or(Path::new("/"));
        crate::state::private_dir(dir)?;
        let file =
            crate::state::private_file(&path, nix::fcntl::OFlag::empty()).at("open", &path)?;
        crate::sys::flock_exclusive(std::os::fd::AsRawFd::as_raw_fd(&file)).at("lock", &path)?;
        Ok(file)
    }

    /// The leases as written, live or not. A line that does not parse is dropped.
    pub fn read(&self) -> Vec<Lease> {
        let text = crate::sys::read_text(&self.path).unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let (addr, name) = l.split_once(' ')?;
                Some(Lease {
                    addr: addr.parse().ok()?,
                    name: name.to_string(),
                })
            })
            .collect()
    }

    fn write(&self, leases: &[Lease]) -> Result<()> {
        let mut text = String::new();
        for l in leases {
            let _ = writeln!(text, "{} {}", l.addr, l.name);
        }
        crate::state::write_atomic(&self.path, text.as_bytes())
    }

    /// Leases `wanted` (or the first free address) to `name`; the caller holds the
    /// lock. `live` says whether a container name is still held. `plugged` says
    /// whether an address's veth exists: one that no lease here accounts for belongs
    /// to a container of another state root, and its address is not free. Returns the
    /// address, and whether its veth is a stale one to remove first.
    pub fn take(
        &self,
        subnet: &Subnet,
        name: &str,
        wanted: Option<Ipv4Addr>,
        live: impl Fn(&str) -> bool,
        plugged: impl Fn(Ipv4Addr) -> bool,
    ) -> Result<(Ipv4Addr, bool)> {
        let mut leases = self.read();
        let stale: Vec<Ipv4Addr> = leases
            .iter()
            .filter(|l| l.name == name || !live(&l.name))
            .map(|l| l.addr)
            .collect();
        leases.retain(|l| !stale.contains(&l.addr) && subnet.assignable(l.addr));
        let holder = |a: Ipv4Addr| {
            let lease = leases.iter().find(|l| l.addr == a).map(|l| l.name.clone());
            lease.or_else(|| {
                (plugged(a) && !stale.contains(&a)).then(|| "of another state root".to_string())
            })
        };
        let addr = match wanted {
            Some(a) if !subnet.assignable(a) => {
                return Err(Error::new(format!(
                    "--ip {a}: not an address for a container on {subnet}"
                ))
                .hint(format!(
                    "give an address inside {subnet} other than the bridge's {}",
                    subnet.gateway()
                )))
            }
            Some(a) => match holder(a) {
                Some(other) => {
                    return Err(Error::new(format!("--ip {a}: container {other} has it"))
                        .hint("give another address, or none to have one chosen"))
                }
                None => a,
            },
            None => subnet
                .hosts()
                .find(|a| holder(*a).is_none())
                .ok_or_else(|| {
                    Error::new(format!(
                        "the subnet {subnet} has no free address: {} containers hold one",
                        leases.len()
                    ))
                    .hint("stop a container, or give the bridge a larger subnet")
                })?,
        };
        leases.push(Lease {
            name: name.to_string(),
            addr,
        });
        self.write(&leases)?;
        Ok((addr, plugged(addr)))
    }

    /// Gives back `name`'s lease, and returns its address.
    pub fn release(&self, name: &str) -> Option<Ipv4Addr> {
        let _lock = self.lock().ok()?;
        let mut leases = self.read();
        let addr = leases.iter().find(|l| l.name == name).map(|l| l.addr)?;
        leases.retain(|l| l.name != name);
        let _ = self.write(&leases);
        Some(addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_parse_to_their_network_and_reject_what_leaves_no_room() {
        let s = Subnet::parse("10.199.0.77/24").unwrap();
        assert_eq!(s.to_string(), "10.199.0.0/24");
        assert_eq!(s.gateway(), Ipv4Addr::new(10, 199, 0, 1));
        assert!(s.assignable(Ipv4Addr::new(10, 199, 0, 2)));
        assert!(s.assignable(Ipv4Addr::new(10, 199, 0, 254)));
        for a in [
            [10, 199, 0, 0],
            [10, 199, 0, 1],
            [10, 199, 0, 255],
            [10, 199, 1, 2],
        ] {
            assert!(!s.assignable(Ipv4Addr::from(a)), "{a:?}");
        }
        for bad in [
            "10.199.0.0",
            "10.199.0.0/31",
            "10.199.0.0/7",
            "x/24",
            "10.199.0.0/x",
            "300.1.1.1/24",
        ] {
            assert!(Subnet::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Subnet::parse("10.0.0.0/30").unwrap().hosts().count(), 1);
    }

    #[test]
    fn leases_go_to_the_first_free_address_and_stale_ones_are_taken_back() {
        let dir = std::env::temp_dir().join(format!("qing-lease-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let leases = Leases::of(&dir, "br");
        let s = Subnet::parse("10.5.0.0/29").unwrap(); // .2 to .6
        let all = |_: &str| true;
        let none = |_: Ipv4Addr| false;
        let addr = |n: u8| Ipv4Addr::new(10, 5, 0, n);
        assert_eq!(
            leases.take(&s, "a", None, all, none).unwrap(),
            (addr(2), false)
        );
        assert_eq!(
            leases.take(&s, "b", None, all, none).unwrap(),
            (addr(3), false)
        );
        assert!(
            leases.take(&s, "c", Some(addr(3)), all, none).is_err(),
            "held by b"
        );
        assert!(leases.take(&s, "c", Some(addr(1)), all, none).is_err());
        // b's container is gone: its address is free again, and its veth is stale.
        let only_a = |n: &str| n == "a";
        let b_plugged = |a: Ipv4Addr| a == addr(3);
        let got = leases.take(&s, "c", Some(addr(3)), only_a, b_plugged);
        assert_eq!(got.unwrap(), (addr(3), true));
        // A veth no lease here accounts for: another state root's container.
        let other = |a: Ipv4Addr| a == addr(4);
        assert!(leases.take(&s, "d", Some(addr(4)), all, other).is_err());
        assert_eq!(
            leases.take(&s, "d", None, all, other).unwrap(),
            (addr(5), false)
        );
        leases.take(&s, "e", None, all, none).unwrap();
        leases.take(&s, "f", None, all, none).unwrap();
        let full = leases.take(&s, "g", None, all, none).unwrap_err();
        assert!(full.to_string().contains("no free address"), "{full}");
        assert_eq!(leases.release("e"), Some(addr(4)));
        assert_eq!(leases.release("e"), None);
        assert_eq!(
            leases.take(&s, "g", None, all, none).unwrap(),
            (addr(4), false)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
