//! Published ports (`--publish`): a forwarder in the process that already waits for
//! the container (`qing run`, or its supervisor), so it needs no iptables, no daemon
//! and no thread. The host's sockets are bound before the container exists, so a port
//! in use fails the start with nothing left behind. Each TCP connection is accepted
//! and connected on to the container's bridge address; UDP datagrams go through one
//! connected socket per client address. The container sees the bridge's address as
//! the peer, not the client's.
//!
//! Memory is bounded: one 64 KiB buffer that everything is read into, and per
//! connection only what the other end has not taken yet (at most READ_BYTES each
//! way, usually nothing); at most MAX_FLOWS connections and MAX_PEERS UDP clients
//! (the oldest makes room).

use crate::error::{Error, Result};
use crate::features::BRIDGE;
use crate::spec::Publish;
use nix::errno::Errno;
use nix::sys::socket::{
    accept4, bind, connect, getsockopt, listen, recv, recvfrom, send, sendto, setsockopt, shutdown,
    socket, sockopt, AddressFamily, Backlog, MsgFlags, Shutdown, SockFlag, SockType, SockaddrIn,
};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

const MAX_FLOWS: usize = 128;
const MAX_PEERS: usize = 64;
/// The most a connection reads at once: the bound on what it holds unsent.
const READ_BYTES: usize = 16 * 1024;
/// The largest UDP datagram.
const SCRATCH_BYTES: usize = 65_536;
/// The most datagrams one socket is read for per wake-up: a flood (from a client, or
/// from a hostile container) must not keep the loop from its signals.
const DATAGRAMS_PER_WAKE: usize = 64;
/// A UDP client silent this long is forgotten (as conntrack's UDP stream timeout).
const PEER_IDLE: Duration = Duration::from_secs(180);

/// A bound host socket and the container port it forwards to.
pub struct Listener {
    pub socket: OwnedFd,
    pub port: u16,
    pub udp: bool,
}

pub struct Forwarder {
    listeners: Vec<Listener>,
    /// The container's bridge address; None while no container runs.
    target: Option<Ipv4Addr>,
    flows: Vec<Flow>,
    peers: Vec<Peer>,
    /// What every read goes into; allocated on first use.
    scratch: Vec<u8>,
}

/// One TCP connection: the client's socket and ours to the container.
struct Flow {
    client: OwnedFd,
    server: OwnedFd,
    connected: bool,
    /// Client to container, and back.
    up: Half,
    down: Half,
}

/// One direction of a flow.
#[derive(Default)]
struct Half {
    /// Read, and not yet taken by the other end.
    unsent: Vec<u8>,
    /// The reader said end-of-file; once `buf` is written, the writer is shut down.
    eof: bool,
    shut: bool,
}

/// A UDP client of one listener, and our socket connected to the container for it.
struct Peer {
    listener: usize,
    client: SockaddrIn,
    socket: OwnedFd,
    last: Instant,
}

enum Step {
    Going,
    Done,
    /// Reset both ends: an error on either side, or the container refused.
    Failed,
}

/// The forwarder is a source of the wait loop of whoever waits for the container.
impl crate::wait::Source for Forwarder {
    fn want(&self, fds: &mut Vec<libc::pollfd>) {
        Forwarder::want(self, fds);
    }

    fn serve(&mut self, ready: &[libc::pollfd]) {
        Forwarder::serve(self, ready);
    }
}

impl Forwarder {
    /// Binds every published port on the host, before the container exists.
    pub fn bind(publish: &[Publish]) -> Result<Forwarder> {
        // Without the bridge nothing is published (spec refused it), and none of the
        // forwarder's code is built in: every entry point here stops first.
        if !BRIDGE.built {
            return Ok(Forwarder::none());
        }
        let listeners = publish.iter().map(bind_one).collect::<Result<Vec<_>>>()?;
        Ok(Forwarder::new(listeners))
    }

    /// Takes over sockets bound before (a supervisor after executing itself anew).
    pub fn new(listeners: Vec<Listener>) -> Forwarder {
        Forwarder {
            listeners,
            target: None,
            flows: Vec::new(),
            peers: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Nothing published: for relays that serve no ports (`qing exec --tty`).
    pub fn none() -> Forwarder {
        Forwarder::new(Vec::new())
    }

    pub fn listeners(&self) -> &[Listener] {
        &self.listeners
    }

    /// Where connections go from now on; what went to an earlier container is closed.
    pub fn set_target(&mut self, target: Option<Ipv4Addr>) {
        if !BRIDGE.built {
            return;
        }
        if target != self.target {
            self.flows.clear();
            self.peers.clear();
        }
        self.target = target;
    }

    pub fn target(&self) -> Option<Ipv4Addr> {
        self.target
    }

    /// Appends the descriptors to poll and what for; `serve` takes the same slice back.
    pub fn want(&self, fds: &mut Vec<libc::pollfd>) {
        if !BRIDGE.built {
            return;
        }
        let accepting = self.target.is_some();
        for l in &self.listeners {
            let room = l.udp || self.flows.len() < MAX_FLOWS;
            fds.push(crate::sys::pollfd(
                l.socket.as_raw_fd(),
                accepting && room,
                false,
            ));
        }
        for f in &self.flows {
            let read_client = f.connected && f.up.unsent.is_empty() && !f.up.eof;
            let read_server = f.connected && f.down.unsent.is_empty() && !f.down.eof;
            fds.push(crate::sys::pollfd(
                f.client.as_raw_fd(),
                read_client,
                !f.down.unsent.is_empty(),
            ));
            fds.push(crate::sys::pollfd(
                f.server.as_raw_fd(),
                read_server,
                !f.connected || !f.up.unsent.is_empty(),
            ));
        }
        for p in &self.peers {
            fds.push(crate::sys::pollfd(p.socket.as_raw_fd(), true, false));
        }
    }

    /// Serves what poll found ready in `fds`, as `want` laid them out.
    pub fn serve(&mut self, fds: &[libc::pollfd]) {
        if !BRIDGE.built {
            return;
        }
        let ready = |i: usize| fds.get(i).map_or(0, |p| p.revents);
        if fds.iter().all(|p| p.revents == 0) {
            return;
        }
        if self.scratch.is_empty() {
            self.scratch = vec![0; SCRATCH_BYTES];
        }
        let scratch = &mut self.scratch;
        let first_flow = self.listeners.len();
        let first_peer = first_flow + 2 * self.flows.len();
        let mut i = 0;
        self.flows.retain_mut(|f| {
            let at = first_flow + 2 * i;
            i += 1;
            match f.step(ready(at), ready(at + 1), scratch) {
                Step::Going => true,
                Step::Done => false,
                Step::Failed => {
                    reset(&f.client);
                    reset(&f.server);
                    false
                }
            }
        });
        let now = Instant::now();
        let mut j = 0;
        let listeners = &self.listeners;
        self.peers.retain_mut(|p| {
            let at = first_peer + j;
            j += 1;
            if ready(at) != 0 {
                answer(p, listeners, scratch);
                p.last = now;
            }
            now.duration_since(p.last) < PEER_IDLE
        });
        for k in 0..self.listeners.len() {
            if ready(k) != 0 {
                self.take_in(k);
            }
        }
    }

    /// New connections or datagrams on listener `k`.
    fn take_in(&mut self, k: usize) {
        let (Some(l), Some(target)) = (self.listeners.get(k), self.target) else {
            return;
        };
        let to = SockaddrIn::from(SocketAddrV4::new(target, l.port));
        if !l.udp {
            while self.flows.len() < MAX_FLOWS {
                let Ok(raw) = accept4(l.socket.as_raw_fd(), cloexec_nonblock()) else {
                    return;
                };
                let Ok(client) = crate::sys::adopt_fd(raw) else {
                    return;
                };
                match connect_to(SockType::Stream, &to) {
                    Some(server) => self.flows.push(Flow::new(client, server)),
                    None => reset(&client),
                }
            }
            return;
        }
        for _ in 0..DATAGRAMS_PER_WAKE {
            let Ok((n, Some(from))) =
                recvfrom::<SockaddrIn>(l.socket.as_raw_fd(), &mut self.scratch)
            else {
                return;
            };
            let known = self
                .peers
                .iter()
                .position(|p| p.listener == k && p.client == from);
            let index = match known {
                Some(index) => index,
                None => {
                    let Some(socket) = connect_to(SockType::Datagram, &to) else {
                        continue;
                    };
                    if self.peers.len() >= MAX_PEERS {
                        let oldest = self.peers.iter().enumerate().min_by_key(|(_, p)| p.last);
                        if let Some((oldest, _)) = oldest {
                            self.peers.swap_remove(oldest);
                        }
                    }
                    self.peers.push(Peer {
                        listener: k,
                        client: from,
                        socket,
                        last: Instant::now(),
                    });
                    self.peers.len() - 1
                }
            };
            if let (Some(p), Some(data)) = (self.peers.get_mut(index), self.scratch.get(..n)) {
                p.last = Instant::now();
                // A datagram the container's side cannot take is lost, as on a network.
                let _ = send(p.socket.as_raw_fd(), data, MsgFlags::MSG_NOSIGNAL);
            }
        }
    }
}

impl Flow {
    fn new(client: OwnedFd, server: OwnedFd) -> Flow {
        Flow {
            client,
            server,
            connected: false,
            up: Half::default(),
            down: Half::default(),
        }
    }

    /// One wake-up of a connection: `client` and `server` are their poll results.
    fn step(&mut self, client: i16, server: i16, scratch: &mut [u8]) -> Step {
        if !self.connected {
            if server == 0 {
                return Step::Going;
            }
            match getsockopt(&self.server, sockopt::SocketError) {
                Ok(0) if server & (libc::POLLERR | libc::POLLHUP) == 0 => self.connected = true,
                _ => return Step::Failed,
            }
        }
        let moved = self.up.carry(&self.client, &self.server, client, scratch)
            && self.down.carry(&self.server, &self.client, server, scratch);
        if !moved {
            Step::Failed
        } else if self.up.shut && self.down.shut {
            Step::Done
        } else {
            Step::Going
        }
    }
}

impl Half {
    /// Writes on what `to` did not take before; or else, when `ready` says so, reads
    /// what `from` has and writes it on, keeping what `to` does not take now. Passes
    /// end-of-file on. False on an error of either end.
    fn carry(&mut self, from: &OwnedFd, to: &OwnedFd, ready: i16, scratch: &mut [u8]) -> bool {
        if ready & libc::POLLERR != 0 {
            return false;
        }
        if !self.unsent.is_empty() {
            match send(to.as_raw_fd(), &self.unsent, MsgFlags::MSG_NOSIGNAL) {
                Ok(n) if n >= self.unsent.len() => self.unsent = Vec::new(),
                Ok(n) => drop(self.unsent.drain(..n)),
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                Err(_) => return false,
            }
        } else if ready != 0 && !self.eof {
            let len = scratch.len().min(READ_BYTES);
            let Some(buf) = scratch.get_mut(..len) else {
                return false;
            };
            match recv(from.as_raw_fd(), buf, MsgFlags::empty()) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    let read = buf.get(..n).unwrap_or_default();
                    let sent = match send(to.as_raw_fd(), read, MsgFlags::MSG_NOSIGNAL) {
                        Ok(sent) => sent,
                        Err(Errno::EAGAIN | Errno::EINTR) => 0,
                        Err(_) => return false,
                    };
                    self.unsent = read.get(sent..).unwrap_or_default().to_vec();
                }
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                Err(_) => return false,
            }
        }
        if self.eof && self.unsent.is_empty() && !self.shut {
            self.shut = true;
            let _ = shutdown(to.as_raw_fd(), Shutdown::Write);
        }
        true
    }
}

/// Replies from the container to a UDP client, through the listener it wrote to.
fn answer(p: &Peer, listeners: &[Listener], buf: &mut [u8]) {
    let Some(l) = listeners.get(p.listener) else {
        return;
    };
    for _ in 0..DATAGRAMS_PER_WAKE {
        let Ok(n) = recv(p.socket.as_raw_fd(), buf, MsgFlags::empty()) else {
            return;
        };
        if let Some(data) = buf.get(..n) {
            let _ = sendto(
                l.socket.as_raw_fd(),
                data,
                &p.client,
                MsgFlags::MSG_NOSIGNAL,
            );
        }
    }
}

fn bind_one(p: &Publish) -> Result<Listener> {
    let proto = if p.udp { "udp" } else { "tcp" };
    let what = format!("--publish {}:{}:{}/{proto}", p.host_ip, p.host_port, p.port);
    let kind = if p.udp {
        SockType::Datagram
    } else {
        SockType::Stream
    };
    let socket = socket(AddressFamily::Inet, kind, cloexec_nonblock(), None)
        .map_err(|e| Error::sys(format!("{what}: create a socket"), e))?;
    // As every server does: a port whose last connections linger in TIME_WAIT binds.
    // Not for UDP, where it would let a second socket share the port.
    if !p.udp {
        let _ = setsockopt(&socket, sockopt::ReuseAddr, &true);
    }
    let at = SockaddrIn::from(SocketAddrV4::new(p.host_ip, p.host_port));
    bind(socket.as_raw_fd(), &at).map_err(|e| match e {
        Errno::EADDRINUSE => Error::new(format!(
            "{what}: host port {} ({proto}) is in use",
            p.host_port
        ))
        .hint("stop what listens there, or publish another host port"),
        Errno::EADDRNOTAVAIL => Error::new(format!(
            "{what}: {} is not an address of this host",
            p.host_ip
        ))
        .hint("give one of the host's addresses, or leave it out for all of them"),
        e => Error::sys(format!("{what}: bind {at}"), e),
    })?;
    if !p.udp {
        listen(&socket, Backlog::new(128).unwrap_or(Backlog::MAXCONN))
            .map_err(|e| Error::sys(format!("{what}: listen"), e))?;
    }
    Ok(Listener {
        socket,
        port: p.port,
        udp: p.udp,
    })
}

/// A socket connecting (or connected, for UDP) to the container; None if refused.
fn connect_to(kind: SockType, to: &SockaddrIn) -> Option<OwnedFd> {
    let s = socket(AddressFamily::Inet, kind, cloexec_nonblock(), None).ok()?;
    match connect(s.as_raw_fd(), to) {
        Ok(()) | Err(Errno::EINPROGRESS) => Some(s),
        Err(_) => None,
    }
}

/// Closes with a reset rather than an orderly end, so the other side hears of it.
fn reset(fd: &OwnedFd) {
    let abort = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    let _ = setsockopt(fd, sockopt::Linger, &abort);
}

fn cloexec_nonblock() -> SockFlag {
    SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK
}
