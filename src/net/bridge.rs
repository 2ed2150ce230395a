//! `--net bridge`: the single bridge, and a container's place on it.
//!
//! ```text
//! host side (qing run / supervisor)        container init
//! lock; bridge up (made on first use);
//! lease an address; veth qvN + qcN,
//! qvN into the bridge, up
//!                                          before its own netns: a netlink socket
//!                                          (bound to the host's namespace)
//!                                          after: move qcN in through it, rename
//!                                          it eth0, address, up, default route
//! the container ends: qvN deleted (the kernel deletes its peer), lease given back
//! ```
//! N is the address's offset in the subnet, so a veth's name says whose it is and no
//! two containers' collide while their leases are held. The bridge stays when the
//! last container goes: `qing net down` removes it.

use super::lease::{Leases, Subnet};
use super::netlink::Socket;
use crate::error::{Context, Error, Result};
use crate::features::BRIDGE;
use crate::json;
use crate::sys;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

pub const DEFAULT_NAME: &str = "qing0";
/// A /24 is room for 253 containers, far more than a board runs. 10.199 is in the
/// private 10/8 block, away from the nets that routers, VPNs and other container tools
/// take by default (192.168.x, 10.0-10.10, OpenVPN's 10.8, podman's 10.88, Docker's
/// 172.17-31, LXC's 10.0.3, k8s's 10.96 and 10.244).
pub const DEFAULT_SUBNET: &str = "10.199.0.0/24";

/// The bridge's settings: CONFIG_DIR/net/bridge.json, else the defaults.
#[derive(Debug, Clone)]
pub struct Bridge {
    pub name: String,
    pub subnet: Subnet,
    /// Outbound NAT (`"nat": true`): see nat.rs.
    pub nat: bool,
}

impl Bridge {
    pub fn configured(config_dir: &Path) -> Result<Bridge> {
        let path = settings_path(config_dir);
        let mut bridge = Bridge {
            name: DEFAULT_NAME.to_string(),
            subnet: Subnet::parse(DEFAULT_SUBNET)?,
            nat: false,
        };
        if !path.exists() {
            return Ok(bridge);
        }
        let doc = json::read_object(&path, 4096, "bridge settings")?;
        bridge.set(&doc)?;
        Ok(bridge)
    }

    /// The settings of `doc` (bridge.json) over these.
    pub fn set(&mut self, doc: &json::Doc) -> Result<()> {
        doc.only_keys(&["name", "subnet", "nat"])?;
        let in_file = |e: Error| {
            let what = format!("{}: {}", doc.path.display(), e.what());
            e.reword(what)
        };
        if let Some(name) = doc.string("name")? {
            validate_link_name(&name).map_err(in_file)?;
            self.name = name;
        }
        if let Some(subnet) = doc.string("subnet")? {
            self.subnet = Subnet::parse(&subnet).map_err(in_file)?;
        }
        self.nat = doc.boolean("nat")?.unwrap_or(false);
        Ok(())
    }

    pub fn leases(&self, run: &Path) -> Leases {
        Leases::of(run, &self.name)
    }

    /// Makes the bridge with the subnet's first address, if it is not there yet; up;
    /// with its NAT when the settings ask for it.
    pub fn ensure(&self, nl: &Socket) -> Result<u32> {
        if let Ok(index) = sys::interface_index(&self.name) {
            return Ok(index);
        }
        let what = || format!("create bridge {}", self.name);
        super::create_link(&self.name, "bridge", None)
            .context(what)
            .map_err(|e| e.hint(crate::kernel::BRIDGE.needed()))?;
        let index = sys::interface_index(&self.name).context(what)?;
        nl.add_address(index, self.subnet.gateway().octets(), self.subnet.prefix)
            .context(|| {
                format!(
                    "give bridge {} the address {}",
                    self.name,
                    self.subnet.gateway()
                )
            })?;
        nl.set_up(index).context(what)?;
        if self.nat {
            super::nat::enable(&self.name, &self.subnet)?;
        }
        Ok(index)
    }

    /// Removes the bridge and its NAT (`qing net down`).
    pub fn remove(&self) -> Result<()> {
        super::nat::disable(&self.name, &self.subnet);
        Socket::open()
            .and_then(|nl| nl.delete(&self.name))
            .context(|| format!("remove bridge {}", self.name))
    }
}

pub fn settings_path(config_dir: &Path) -> PathBuf {
    config_dir.join("net").join("bridge.json")
}

/// Interface names: at most 15 bytes, no '/', ':' or whitespace.
fn validate_link_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 15
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(Error::new(format!(
            "bridge name {name_q}: not an interface name",
            name_q = crate::error::quoted(name)
        ))
        .hint("use up to 15 letters, digits, '-', '_' or '.'"))
    }
}

/// A container's place on the bridge, from the host side: its lease and veth. Dropped
/// once the container has ended, it deletes the veth (if the kernel has not yet) and
/// gives the lease back.
pub struct Attachment {
    pub addr: Ipv4Addr,
    pub subnet: Subnet,
    /// The veth end that goes into the container, by its name in the host namespace.
    pub peer: String,
    leases: Leases,
    name: String,
}

/// Leases an address for `name` (`wanted`, or the first free one) on the bridge
/// configured in `config_dir`, and plugs a veth into it, making the bridge on first
/// use. `live` tells a live container's name from a stale lease's.
pub fn attach(
    config_dir: &Path,
    run: &Path,
    name: &str,
    wanted: Option<Ipv4Addr>,
    live: impl Fn(&str) -> bool,
) -> Result<Attachment> {
    if !BRIDGE.built {
        return Err(BRIDGE.left_out("--net bridge"));
    }
    let bridge = &Bridge::configured(config_dir)?;
    // One qing at a time makes the bridge and hands out addresses.
    let leases = bridge.leases(run);
    let lock = leases.lock()?;
    let nl = Socket::open().ctx("open a netlink socket")?;
    let bridge_index = bridge.ensure(&nl)?;
    let subnet = bridge.subnet;
    let veth = move |a: Ipv4Addr| format!("qv{}", subnet.offset(a));
    let plugged = |a: Ipv4Addr| sys::interface_index(&veth(a)).is_ok();
    let (addr, stale_veth) = leases.take(&bridge.subnet, name, wanted, live, plugged)?;
    if stale_veth {
        // A crashed container's, whose namespace the kernel has not torn down yet.
        let _ = nl.delete(&veth(addr));
    }
    let n = bridge.subnet.offset(addr);
    let attachment = Attachment {
        addr,
        subnet: bridge.subnet,
        peer: format!("qc{n}"),
        leases,
        name: name.to_string(),
    };
    let plugged = plug(&nl, &format!("qv{n}"), &attachment.peer, bridge_index).map_err(|e| {
        let what = format!(
            "plug container {name} into bridge {}: {}",
            bridge.name,
            e.what()
        );
        e.reword(what)
    });
    // Unlocked before a failure drops the attachment, which locks to give back.
    drop(lock);
    crate::debug::step!("lease {addr} on bridge {}, veth qv{n}", bridge.name);
    plugged.map(|()| attachment)
}

/// A veth pair `host_end`/`peer`, the host end in the bridge and up.
fn plug(nl: &Socket, host_end: &str, peer: &str, bridge_index: u32) -> Result<()> {
    super::create_link(host_end, "veth", Some(peer))
        .context(|| format!("create veth {host_end}"))
        .map_err(|e| e.hint(crate::kernel::VETH.needed()))?;
    let index = sys::interface_index(host_end).context(|| format!("find {host_end}"))?;
    nl.set_master(index, bridge_index)
        .context(|| format!("put {host_end} in the bridge"))?;
    nl.set_up(index).context(|| format!("bring {host_end} up"))
}

impl Drop for Attachment {
    fn drop(&mut self) {
        if BRIDGE.built {
            give_back(&self.leases, &self.subnet, &self.name);
        }
    }
}

/// Gives back what `attach` took for `name`, by name: for a supervisor, whose
/// `Attachment` did not outlive its execve, and for `qing stop` after a crash. The
/// veth goes first (the kernel deletes it with the container's namespace, but not
/// always before the next container wants the name), then the lease.
pub fn detach(config_dir: &Path, run: &Path, name: &str) {
    if !BRIDGE.built {
        return;
    }
    if let Ok(bridge) = Bridge::configured(config_dir) {
        give_back(&bridge.leases(run), &bridge.subnet, name);
    }
}

/// Whether `name` holds a lease here: what a `qing run` killed while its container ran
/// leaves (its init removes the cgroups and gives the name up, but cannot reach the
/// lease file), which `qing stop NAME` then gives back.
pub fn leased(config_dir: &Path, run: &Path, name: &str) -> bool {
    BRIDGE.built
        && Bridge::configured(config_dir)
            .is_ok_and(|b| b.leases(run).read().iter().any(|l| l.name == name))
}

fn give_back(leases: &Leases, subnet: &Subnet, name: &str) {
    let Some(lease) = leases.read().into_iter().find(|l| l.name == name) else {
        return;
    };
    if let Ok(nl) = Socket::open() {
        let _ = nl.delete(&format!("qv{}", subnet.offset(lease.addr)));
    }
    leases.release(name);
}

/// The host's end of a container's netlink, opened by the init before it leaves the
/// host's network namespace: through it the init pulls its veth end in.
pub struct HostNetlink(Socket);

pub fn open_host_netlink() -> Result<HostNetlink> {
    Socket::open().map(HostNetlink).ctx("open a netlink socket")
}

/// In the container's init, in its own network namespace: pulls the veth end in,
/// names it eth0, gives it the address and a default route through the bridge.
pub fn configure_inside(a: &Attachment, host: HostNetlink) -> Result<()> {
    if !BRIDGE.built {
        return Err(BRIDGE.left_out("--net bridge"));
    }
    let own_ns = crate::sys::open_fd(
        std::path::Path::new("/proc/self/ns/net"),
        nix::fcntl::OFlag::O_RDONLY,
        0,
    )
    .ctx("open the container's network namespace")?;
    host.0
        .move_to(&a.peer, own_ns.as_raw_fd())
        .context(|| format!("move {} into the container", a.peer))?;
    drop(host);
    let nl = Socket::open().ctx("open a netlink socket")?;
    let what = || "set up eth0".to_string();
    let index = sys::interface_index(&a.peer).context(what)?;
    nl.rename(index, "eth0").context(what)?;
    nl.add_address(index, a.addr.octets(), a.subnet.prefix)
        .context(|| format!("give eth0 the address {}", a.addr))?;
    nl.set_up(index).context(what)?;
    nl.add_default_route(a.subnet.gateway().octets(), index)
        .context(|| format!("add a default route through {}", a.subnet.gateway()))?;
    crate::debug::step!(
        "eth0 {}/{} via {}",
        a.addr,
        a.subnet.prefix,
        a.subnet.gateway()
    );
    Ok(())
}
