//! `--publish`: host ports forwarded to a bridged container by the process that waits
//! for it (`qing run`, or the supervisor of `qing start`). Each test runs in a network
//! namespace of its own; "the host" is that namespace.

mod common;
use common::named::Lc;
use common::net::{assert_no_network_leftovers, bridged, links, own_network, wait_until};
use common::{Container, Output};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `qing run` in the background, terminated when dropped: a failing test must not
/// leave it holding the harness's output open.
struct Running(Child);

impl Running {
    /// SIGTERM, and the exit status.
    fn terminate(&mut self) -> i32 {
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        self.0.wait().unwrap().code().unwrap_or(-1)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            self.terminate();
        }
    }
}

/// Starts `cmd` and waits for the container's first line, `first`.
fn spawn_until(mut cmd: Command, first: &str) -> Running {
    let mut run = Running(cmd.stdout(Stdio::piped()).spawn().unwrap());
    let mut line = String::new();
    BufReader::new(run.0.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, format!("{first}\n"));
    run
}

/// A bridged `qing run` of the echo service on port 7000 (TCP and UDP), once it
/// listens.
fn run_echo_service(c: &Container, opts: &[&str]) -> Running {
    let volume = format!("{}:/probe:ro", common::probe_dir("echo").display());
    let mut all = vec!["--volume", volume.as_str()];
    all.extend_from_slice(opts);
    spawn_until(bridged(c, &all, "exec /probe/echo 7000"), "echo up")
}

/// Connects, retrying while the container's service is not there yet.
fn connect(addr: &str) -> TcpStream {
    let mut conn = None;
    wait_until(&format!("a connection through {addr}"), || {
        conn = TcpStream::connect(addr).ok();
        conn.is_some()
    });
    let conn = conn.unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn
}

/// Sends `payload` from a thread of its own while reading the echo, as a client of
/// a streaming service does: a forwarder that stalls one direction would hang here.
fn echo_through(addr: &str, payload: &[u8]) -> Vec<u8> {
    try_echo_through(addr, payload).unwrap()
}

fn try_echo_through(addr: &str, payload: &[u8]) -> std::io::Result<Vec<u8>> {
    let conn = connect(addr);
    let mut writer = conn.try_clone()?;
    let data = payload.to_vec();
    let sending = std::thread::spawn(move || {
        writer.write_all(&data)?;
        writer.shutdown(std::net::Shutdown::Write)
    });
    let mut echoed = Vec::new();
    let read = (&conn).read_to_end(&mut echoed);
    sending.join().unwrap()?;
    read.map(|_| echoed)
}

fn port_is_free(addr: &str) -> bool {
    TcpListener::bind(addr).is_ok()
}

#[test]
fn a_published_tcp_port_carries_a_payload_both_ways_to_the_container() {
    if common::skip_without_any(&["bridge"]) {
        return;
    }
    own_network();
    let c = Container::new("pub-tcp");
    let mut run = run_echo_service(
        &c,
        &[
            "--publish",
            "127.0.0.1:18080:7000",
            "--publish",
            "18081:7000/tcp",
        ],
    );
    let payload: Vec<u8> = (0..2_000_000u32).map(|i| (i % 251) as u8).collect();
    let echoed = echo_through("127.0.0.1:18080", &payload);
    assert!(
        echoed == payload,
        "{} bytes of {} came back",
        echoed.len(),
        payload.len()
    );
    // 18081 listens on every address, the bridge's too; 18080 only on loopback.
    assert_eq!(echo_through("10.199.0.1:18081", b"hi\n"), b"hi\n");
    assert!(TcpStream::connect("10.199.0.1:18080").is_err());
    // Many clients at once, each with its own payload.
    let clients: Vec<_> = (0..20)
        .map(|i| {
            std::thread::spawn(move || {
                let mine = format!("client {i}\n").repeat(1000).into_bytes();
                echo_through("127.0.0.1:18080", &mine) == mine
            })
        })
        .collect();
    for client in clients {
        assert!(
            client.join().unwrap(),
            "a client's payload came back changed"
        );
    }

    assert_eq!(run.terminate(), 143);
    c.assert_no_leftovers();
    assert_no_network_leftovers(&c);
    assert!(port_is_free("127.0.0.1:18080") && port_is_free("0.0.0.0:18081"));
}

#[test]
fn a_published_udp_port_answers_each_client_from_the_container() {
    if common::skip_without_any(&["bridge"]) {
        return;
    }
    own_network();
    let c = Container::new("pub-udp");
    let mut run = run_echo_service(&c, &["--publish", "18053:7000/udp"]);
    let clients: Vec<UdpSocket> = (0..3)
        .map(|_| {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
            s.connect("127.0.0.1:18053").unwrap();
            s
        })
        .collect();
    let mut buf = vec![0u8; 65_536];
    for (i, s) in clients.iter().enumerate() {
        // UDP may lose a datagram: ask again until it answers.
        let message = format!("datagram from client {i}").repeat(i * 300 + 1);
        let mut answered = None;
        for _ in 0..60 {
            s.send(message.as_bytes()).unwrap();
            if let Ok(n) = s.recv(&mut buf) {
                answered = Some(buf[..n].to_vec());
                break;
            }
        }
        assert_eq!(
            answered.as_deref(),
            Some(message.as_bytes()),
            "client {i} got its own datagram back ({} bytes)",
            message.len()
        );
    }

    // A second container cannot take the port over, nor share it.
    let other = c.sibling("other");
    let out = common::output(bridged(&other, &["--publish", "18053:53/udp"], "true"));
    assert_eq!(out.code, 125, "{out:?}");
    assert!(out.stderr.contains("18053 (udp) is in use"), "{out:?}");
    other.assert_no_leftovers();

    assert_eq!(run.terminate(), 143);
    c.assert_no_leftovers();
    assert_no_network_leftovers(&c);
    assert!(
        UdpSocket::bind("0.0.0.0:18053").is_ok(),
        "the port is free again"
    );
}

#[test]
fn a_connection_the_container_refuses_is_reset_and_the_port_serves_on() {
    if common::skip_without_any(&["bridge"]) {
        return;
    }
    own_network();
    let c = Container::new("pub-refused");
    let volume = format!("{}:/probe:ro", common::probe_dir("echo").display());
    let mut cmd = bridged(
        &c,
        &["--publish", "127.0.0.1:18082:7000", "--volume", &volume],
        "echo up; read go; exec /probe/echo 7000",
    );
    cmd.stdin(Stdio::piped());
    let mut run = spawn_until(cmd, "up");
    // Nothing listens on 7000 yet: the client hears so, at once.
    let mut conn = TcpStream::connect("127.0.0.1:18082").unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 1];
    match conn.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("a refused connection should end, not {other:?}"),
    }
    run.0.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
    wait_until("the service to echo", || {
        try_echo_through("127.0.0.1:18082", b"later\n").is_ok_and(|e| e == b"later\n")
    });
    assert_eq!(run.terminate(), 143);
    c.assert_no_leftovers();
    assert_no_network_leftovers(&c);
}

#[test]
fn a_started_container_keeps_its_published_port_across_restarts() {
    if common::skip_without_any(&["bridge", "named"]) {
        return;
    }
    own_network();
    let lc = Lc::new("pub-named");
    // The service answers one connection, then the container exits and is restarted.
    lc.create(
        "pubd",
        &[
            "--net",
            "bridge",
            "--restart",
            "always",
            "--publish",
            "18090:7000",
        ],
        "exec busybox nc -l -p 7000 -e /bin/echo served",
    );
    lc.ok(&["start", "pubd"]);
    for round in 0..3 {
        let mut answer = String::new();
        wait_until(&format!("an answer in round {round}"), || {
            answer.clear();
            let conn = connect("127.0.0.1:18090");
            let _ = (&conn).read_to_string(&mut answer);
            answer == "served\n"
        });
    }
    let status = lc.ok(&["status", "pubd"]);
    assert!(
        status.contains("restarts ") && !status.contains("restarts 0)"),
        "it was restarted: {status}"
    );
    lc.ok(&["stop", "pubd"]);
    lc.assert_gone("pubd");
    assert!(
        port_is_free("0.0.0.0:18090"),
        "the port goes with the supervisor"
    );
    assert!(!links().iter().any(|l| l.starts_with("qv")), "veth left");
    let leases = std::fs::read_to_string(lc.root.join("run/net/qing0.leases"));
    assert_eq!(leases.unwrap_or_default(), "", "lease left");
}

#[test]
fn a_port_in_use_and_bad_ports_are_clear_errors_that_leave_nothing() {
    if common::skip_without_any(&["bridge", "named"]) {
        return;
    }
    own_network();
    let taken = TcpListener::bind("127.0.0.1:18070").unwrap();
    let c = Container::new("pub-bad");
    let check = |out: Output, says: &str| {
        assert_eq!(out.code, 125, "{out:?}");
        assert!(out.stderr.contains(says), "expected {says:?} in {out:?}");
        c.assert_no_leftovers();
        assert_no_network_leftovers(&c);
    };
    check(
        common::output(bridged(&c, &["--publish", "127.0.0.1:18070:80"], "true")),
        "18070 (tcp) is in use",
    );
    for (value, says) in [
        ("0:80", "\"0\" is not a port"),
        ("70000:80", "\"70000\" is not a port"),
        ("80:80/sctp", "not tcp or udp"),
        ("8080", "not HOSTPORT:PORT"),
        ("10.0.0.300:80:80", "host address is not IPv4"),
        ("192.0.2.1:18071:80", "not an address of this host"),
    ] {
        check(
            common::output(bridged(&c, &["--publish", value], "true")),
            says,
        );
    }
    check(
        c.run(&["--publish", "18072:80"], &["true"]),
        "--publish is for --net bridge",
    );
    check(
        common::output(bridged(
            &c,
            &["--publish", "18073:80", "--publish", "18073:81"],
            "true",
        )),
        "published twice",
    );

    // A started container whose port is taken does not start, and leaves nothing.
    let lc = Lc::new("pub-bad-named");
    lc.create(
        "taken",
        &["--net", "bridge", "--publish", "127.0.0.1:18070:80"],
        "sleep 60",
    );
    let out = lc.q(&["start", "taken"]);
    assert_eq!(out.code, 125, "{out:?}");
    assert!(out.stderr.contains("in use"), "{out:?}");
    lc.assert_gone("taken");
    assert!(!links().iter().any(|l| l.starts_with("qv")), "veth left");
    drop(taken);
}
