//! A minimal rtnetlink client: just enough to build link requests and read the
//! kernel's acknowledgement. No netlink crate: qing needs a handful of messages, and
//! this is a few hundred bytes of code instead of a dependency with an async runtime.

use nix::errno::Errno;
use nix::sys::socket::{
    recv, send, socket, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType,
};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

// From linux/netlink.h and linux/rtnetlink.h.
const NLMSG_ERROR: u16 = 2;
pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_EXCL: u16 = 0x200;
pub const NLM_F_CREATE: u16 = 0x400;
pub const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_NEWADDR: u16 = 20;
const RTM_NEWROUTE: u16 = 24;
const IFLA_MASTER: u16 = 10;
const IFLA_NET_NS_FD: u16 = 28;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const IFF_UP: u32 = 1;
pub const IFLA_IFNAME: u16 = 3;
pub const IFLA_LINKINFO: u16 = 18;
pub const IFLA_INFO_KIND: u16 = 1;
pub const IFLA_INFO_DATA: u16 = 2;
pub const VETH_INFO_PEER: u16 = 1;
const NLA_F_NESTED: u16 = 0x8000;
/// struct ifinfomsg: family, pad, type, index, flags, change.
pub const IFINFOMSG_LEN: usize = 16;

/// A netlink message under construction: header, fixed part, then attributes.
pub struct Message {
    buf: Vec<u8>,
}

impl Message {
    pub fn new(kind: u16, flags: u16, fixed: &[u8]) -> Message {
        let mut buf = vec![0u8; 16];
        buf[4..6].copy_from_slice(&kind.to_ne_bytes());
        buf[6..8].copy_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
        buf[8..12].copy_from_slice(&1u32.to_ne_bytes());
        buf.extend_from_slice(fixed);
        Message { buf }
    }

    /// Appends an attribute, padded to 4 bytes as netlink requires.
    pub fn attr(&mut self, kind: u16, value: &[u8]) -> &mut Message {
        let len = 4 + value.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(value);
        self.buf.resize(self.buf.len().next_multiple_of(4), 0);
        self
    }

    pub fn attr_str(&mut self, kind: u16, value: &str) -> &mut Message {
        let mut v = value.as_bytes().to_vec();
        v.push(0);
        self.attr(kind, &v)
    }

    /// Appends a nested attribute whose contents `fill` writes.
    pub fn nested(&mut self, kind: u16, fill: impl FnOnce(&mut Message)) -> &mut Message {
        let start = self.buf.len();
        self.attr(kind | NLA_F_NESTED, &[]);
        fill(self);
        let len = (self.buf.len() - start) as u16;
        self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        self
    }

    /// Appends raw bytes (a nested message's fixed part).
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Message {
        self.buf.extend_from_slice(bytes);
        self
    }

    fn finish(&mut self) -> &[u8] {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        &self.buf
    }
}

pub struct Socket(OwnedFd);

impl Socket {
    pub fn open() -> nix::Result<Socket> {
        socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkRoute,
        )
        .map(Socket)
    }

    /// Sends a request with NLM_F_ACK and returns the kernel's verdict.
    pub fn request(&self, mut msg: Message) -> nix::Result<()> {
        let flags = u16::from_ne_bytes([msg.buf[6], msg.buf[7]]) | NLM_F_ACK;
        msg.buf[6..8].copy_from_slice(&flags.to_ne_bytes());
        send(self.0.as_raw_fd(), msg.finish(), MsgFlags::empty())?;
        let mut reply = [0u8; 1024];
        let n = recv(self.0.as_raw_fd(), &mut reply, MsgFlags::empty())?;
        parse_ack(reply.get(..n).unwrap_or_default())
    }
}

/// struct ifinfomsg for the link `index` (0: named by IFLA_IFNAME instead), with
/// `up` changing IFF_UP.
fn ifinfo(index: u32, up: bool) -> [u8; IFINFOMSG_LEN] {
    let mut m = [0u8; IFINFOMSG_LEN];
    m[4..8].copy_from_slice(&index.to_ne_bytes());
    if up {
        m[8..12].copy_from_slice(&IFF_UP.to_ne_bytes());
        m[12..16].copy_from_slice(&IFF_UP.to_ne_bytes());
    }
    m
}

/// The requests qing makes: links up, renamed, enslaved, moved and deleted; an IPv4
/// address; a default route. Links are named by index, or by name where the kernel
/// looks them up by IFLA_IFNAME.
impl Socket {
    pub fn set_up(&self, index: u32) -> nix::Result<()> {
        self.request(Message::new(RTM_NEWLINK, 0, &ifinfo(index, true)))
    }

    pub fn rename(&self, index: u32, name: &str) -> nix::Result<()> {
        let mut m = Message::new(RTM_NEWLINK, 0, &ifinfo(index, false));
        m.attr_str(IFLA_IFNAME, name);
        self.request(m)
    }

    pub fn set_master(&self, index: u32, master: u32) -> nix::Result<()> {
        let mut m = Message::new(RTM_NEWLINK, 0, &ifinfo(index, false));
        m.attr(IFLA_MASTER, &master.to_ne_bytes());
        self.request(m)
    }

    /// Moves the link `name` of this socket's namespace into the namespace `ns_fd`.
    pub fn move_to(&self, name: &str, ns_fd: RawFd) -> nix::Result<()> {
        let mut m = Message::new(RTM_NEWLINK, 0, &ifinfo(0, false));
        m.attr_str(IFLA_IFNAME, name)
            .attr(IFLA_NET_NS_FD, &(ns_fd as u32).to_ne_bytes());
        self.request(m)
    }

    pub fn delete(&self, name: &str) -> nix::Result<()> {
        let mut m = Message::new(RTM_DELLINK, 0, &ifinfo(0, false));
        m.attr_str(IFLA_IFNAME, name);
        self.request(m)
    }

    pub fn add_address(&self, index: u32, addr: [u8; 4], prefix: u8) -> nix::Result<()> {
        // struct ifaddrmsg: family, prefixlen, flags, scope, index.
        let mut fixed = [libc::AF_INET as u8, prefix, 0, 0, 0, 0, 0, 0];
        fixed[4..8].copy_from_slice(&index.to_ne_bytes());
        let mut m = Message::new(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &fixed);
        m.attr(IFA_LOCAL, &addr).attr(IFA_ADDRESS, &addr);
        self.request(m)
    }

    pub fn add_default_route(&self, gateway: [u8; 4], index: u32) -> nix::Result<()> {
        // struct rtmsg: family, dst_len, src_len, tos, table (main), protocol (boot),
        // scope (universe), type (unicast), flags.
        let fixed = [libc::AF_INET as u8, 0, 0, 0, 254, 3, 0, 1, 0, 0, 0, 0];
        let mut m = Message::new(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, &fixed);
        m.attr(RTA_GATEWAY, &gateway)
            .attr(RTA_OIF, &index.to_ne_bytes());
        self.request(m)
    }
}

/// An NLMSG_ERROR reply carries a negative errno, or 0 for an acknowledgement;
/// any other code (positive, or i32::MIN, which has no negation) is no answer.
pub fn parse_ack(reply: &[u8]) -> nix::Result<()> {
    let field = |at: usize| -> Option<[u8; 4]> { reply.get(at..at + 4)?.try_into().ok() };
    let kind = reply.get(4..6).map(|b| u16::from_ne_bytes([b[0], b[1]]));
    match (kind, field(16)) {
        (Some(NLMSG_ERROR), Some(code)) => match i32::from_ne_bytes(code) {
            0 => Ok(()),
            e => Err(match e.checked_neg() {
                Some(errno) if errno > 0 => Errno::from_raw(errno),
                _ => Errno::EPROTO,
            }),
        },
        _ => Err(Errno::EPROTO),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_padded_and_nested_lengths_cover_their_children() {
        let mut m = Message::new(RTM_NEWLINK, NLM_F_CREATE, &[0; IFINFOMSG_LEN]);
        m.attr_str(IFLA_IFNAME, "ab").nested(IFLA_LINKINFO, |m| {
            m.attr_str(IFLA_INFO_KIND, "veth");
        });
        let b = m.finish().to_vec();
        assert_eq!(b.len() % 4, 0);
        assert_eq!(
            u32::from_ne_bytes(b[0..4].try_into().unwrap()) as usize,
            b.len()
        );
        // IFNAME "ab\0" = 4 + 3 bytes, padded to 8.
        assert_eq!(u16::from_ne_bytes([b[32], b[33]]), 7);
        // LINKINFO at 40: header 4 + KIND ("veth\0" = 9, padded 12) = 16.
        assert_eq!(u16::from_ne_bytes([b[40], b[41]]), 16);
        assert_eq!(
            u16::from_ne_bytes([b[42], b[43]]),
            IFLA_LINKINFO | NLA_F_NESTED
        );
    }

    #[test]
    fn acks_and_errors_are_read_from_nlmsgerr() {
        let mut ack = vec![0u8; 36];
        ack[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        assert_eq!(parse_ack(&ack), Ok(()));
        ack[16..20].copy_from_slice(&(-libc::EEXIST).to_ne_bytes());
        assert_eq!(parse_ack(&ack), Err(Errno::EEXIST));
        assert_eq!(parse_ack(&[1, 2, 3]), Err(Errno::EPROTO));
    }

    /// Found by tests/fuzz (netlink): i32::MIN as the code overflowed its negation.
    #[test]
    fn error_codes_that_are_no_negative_errno_are_protocol_errors() {
        let mut reply = vec![0u8; 36];
        reply[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        for code in [i32::MIN, 1, libc::EEXIST, i32::MAX] {
            reply[16..20].copy_from_slice(&code.to_ne_bytes());
            assert_eq!(parse_ack(&reply), Err(Errno::EPROTO), "code {code}");
        }
        reply[16..20].copy_from_slice(&(-i32::MAX).to_ne_bytes());
        assert_eq!(parse_ack(&reply), Err(Errno::from_raw(i32::MAX)));
    }
}
