//! Networking: the loopback interface of a new network namespace, which the kernel
//! creates down, and link creation over netlink.

pub mod netlink;

use crate::error::{Context, Result};
use crate::sys;
use netlink::{Message, Socket};

pub fn bring_up_loopback() -> Result<()> {
    sys::interface_up("lo").context(|| "bring up the loopback interface".to_string())
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
