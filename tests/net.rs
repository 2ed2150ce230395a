//! `--net bridge`: containers on qing's bridge, through veth pairs. Every test runs in
//! a network namespace of its own, made for its thread before it starts anything, so
//! the bridge, the veths and the addresses exist only there and the host's network
//! is never touched.

mod common;
use common::net::{assert_no_network_leftovers, bridged, leases, links, own_network, wait_until};
use common::{output, Container, Output};
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// An echo service at `ip`:`port` in a bridged container, once it listens; SIGTERM
/// ends it.
fn start_echo_service(c: &Container, ip: &str, port: u16) -> std::process::Child {
    let script = format!("echo up; while :; do busybox nc -l -p {port} -e /bin/cat; done");
    let mut child = bridged(c, &["--ip", ip], &script)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = [0u8; 3];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut line)
        .unwrap();
    assert_eq!(&line, b"up\n");
    child
}

fn stop(child: &mut std::process::Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    child.wait().unwrap();
}

#[test]
fn two_bridged_containers_and_the_host_reach_each_other() {
    if common::skip_without_any(&["bridge"]) {
        return;
    }
    own_network();
    let server = Container::new("net-server");
    let mut srv = start_echo_service(&server, "10.199.0.10", 7000);

    // The host side of this namespace reaches the container's service.
    let mut conn = None;
    wait_until("the service to listen", || {
        conn = std::net::TcpStream::connect("10.199.0.10:7000").ok();
        conn.is_some()
    });
    let mut conn = conn.unwrap();
    conn.write_all(b"from the host\n").unwrap();
    let mut echoed = [0u8; 14];
    conn.read_exact(&mut echoed).unwrap();
    assert_eq!(&echoed, b"from the host\n");
    drop(conn);

    // Another container pings it and gets a TCP payload through.
    let client = Container::new("net-client");
    let out = output(bridged(
        &client,
        &[],
        "ping -c 1 -W 5 10.199.0.10 >/dev/null && echo pinged; \
         ip -4 -o addr show eth0 | grep -o '10\\.199\\.0\\.[0-9]*/24'; \
         ip route | grep default; \
         echo payload | busybox nc -w 5 10.199.0.10 7000",
    ));
    assert_eq!(out.code, 0, "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "pinged", "{out:?}");
    assert_eq!(lines[1], "10.199.0.2/24", "the first free address: {out:?}");
    assert!(
        lines[2].starts_with("default via 10.199.0.1 dev eth0"),
        "{out:?}"
    );
    assert_eq!(lines[3], "payload", "{out:?}");

    stop(&mut srv);
    server.assert_no_leftovers();
    client.assert_no_leftovers();
    assert_no_network_leftovers(&server);
    assert_no_network_leftovers(&client);
    assert!(links().contains(&"qing0".to_string()), "the bridge stays");
}

#[test]
fn a_bridged_container_has_its_name_and_address_in_etc_hosts() {
    if common::skip_without_any(&["bridge"]) {
        return;
    }
    own_network();
    let c = Container::new("net-hosts");
    let out = c.sh(
        &["--net", "bridge", "--ip", "10.199.0.33"],
        "grep 10.199.0.33 /etc/hosts",
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, format!("10.199.0.33\t{}\n", c.name), "{out:?}");
    // --dns replaces the host's name servers.
    let out = c.sh(
        &[
            "--net",
            "bridge",
            "--dns",
            "10.199.0.1",
            "--dns",
            "192.0.2.53",
        ],
        "cat /etc/resolv.conf",
    );
    assert_eq!(
        out.stdout, "nameserver 10.199.0.1\nnameserver 192.0.2.53\n",
        "{out:?}"
    );
    c.assert_no_leftovers();
    assert_no_network_leftovers(&c);
}

#[test]
fn a_hundred_bridged_runs_leave_no_veth_lease_or_route() {
    if common::skip_without_any(&["bridge"]) {
        return;
    }
    own_network();
    let c = Container::new("net-cycles");
    let routes_before = routes();
    for i in 0..100 {
        let out = c.run(&["--net", "bridge"], &["/bin/true"]);
        assert_eq!(out.code, 0, "run {i}: {out:?}");
    }
    c.assert_no_leftovers();
    assert_no_network_leftovers(&c);
    // The first run made the bridge, and its subnet's route; nothing else is added.
    let added: Vec<String> = routes()
        .into_iter()
        .filter(|r| !routes_before.contains(r))
        .collect();
    assert_eq!(
        added,
        ["10.199.0.0/24 dev qing0 proto kernel scope link src 10.199.0.1"]
    );
}

/// SIGKILL of a bridged `qing run`: its init takes the container down, removes its
/// cgroups and gives the name up, but the lease stays in the state root; `qing stop
/// NAME` gives it back (it once said there was no such container, and left it).
#[test]
fn a_killed_bridged_run_leaves_a_lease_that_stop_gives_back() {
    if common::skip_without_any(&["bridge"]) {
        return;
    }
    own_network();
    let c = Container::new("net-killed-run");
    let mut child = bridged(&c, &[], "echo up; sleep 60")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "up\n");
    child.kill().unwrap();
    child.wait().unwrap();
    wait_until("the killed run's init to give the name up", || {
        common::name_is_free(&c.name)
    });
    assert!(leases(&c).contains(&c.name), "{}", leases(&c));
    let out = c.q(&["stop", &c.name]);
    assert_eq!(out.code, 0, "{out:?}");
    c.assert_no_leftovers();
    assert_no_network_leftovers(&c);
}

/// This namespace's routes, each without the flags that say what its link is doing
/// now: the bridge's carrier (`linkdown`) comes and goes with its ports, in its own
/// time.
fn routes() -> Vec<String> {
    let out = Command::new("ip").args(["route"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let words = l.split_whitespace();
            let kept: Vec<&str> = words
                .filter(|w| !["linkdown", "dead"].contains(w))
                .collect();
            kept.join(" ")
        })
        .collect()
}

#[test]
fn an_address_in_use_a_full_subnet_and_bad_addresses_are_clear_errors() {
    if common::skip_without_any(&["bridge"]) {
        return;
    }
    own_network();
    let holder = Container::new("net-holder");
    let mut held = bridged(&holder, &["--ip", "10.199.0.50"], "echo up; read x")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = [0u8; 3];
    held.stdout.as_mut().unwrap().read_exact(&mut line).unwrap();

    let c = holder.sibling("bad");
    for (opts, says) in [
        (vec!["--net", "bridge", "--ip", "10.199.0.50"], "has it"),
        (
            vec!["--net", "bridge", "--ip", "10.199.0.300"],
            "not an IPv4 address",
        ),
        (
            vec!["--net", "bridge", "--dns", "ns.example"],
            "--dns \"ns.example\": not an IPv4 address",
        ),
        (
            vec!["--net", "bridge", "--ip", "10.200.0.5"],
            "not an address for a container",
        ),
        (
            vec!["--net", "bridge", "--ip", "10.199.0.1"],
            "not an address for a container",
        ),
        (
            vec!["--net", "bridge", "--ip", "10.199.0.255"],
            "not an address for a container",
        ),
        (vec!["--ip", "10.199.0.51"], "--ip is for --net bridge"),
        (vec!["--net", "bridges"], "unknown network mode"),
    ] {
        let out = c.run(&opts, &["/bin/true"]);
        assert_eq!(out.code, 125, "{opts:?}: {out:?}");
        assert!(
            out.stderr.contains(says),
            "{opts:?} should say {says}: {out:?}"
        );
        c.assert_no_leftovers();
    }
    assert_eq!(
        leases(&holder),
        format!("10.199.0.50 {}\n", holder.name),
        "only the holder's"
    );
    // A container of another state root (another lease file) sees the holder's veth.
    let elsewhere = Container::new("net-elsewhere");
    let out = elsewhere.run(&["--net", "bridge", "--ip", "10.199.0.50"], &["/bin/true"]);
    assert_eq!(out.code, 125, "{out:?}");
    assert!(out.stderr.contains("another state root"), "{out:?}");
    elsewhere.assert_no_leftovers();

    drop(held.stdin.take());
    held.wait().unwrap();
    holder.assert_no_leftovers();
    assert_no_network_leftovers(&holder);

    // A subnet with room for one container.
    let small = Container::new("net-small");
    let settings = small.state_root.join("etc/net/bridge.json");
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    std::fs::write(&settings, r#"{"name": "qsmall", "subnet": "10.77.0.0/30"}"#).unwrap();
    let mut first = bridged(&small, &[], "echo up; read x")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    first
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut line)
        .unwrap();
    let second = small.sibling("2");
    let out = second.run(&["--net", "bridge"], &["/bin/true"]);
    assert_eq!(out.code, 125, "{out:?}");
    assert!(
        out.stderr.contains("10.77.0.0/30 has no free address"),
        "{out:?}"
    );
    drop(first.stdin.take());
    first.wait().unwrap();
    small.assert_no_leftovers();

    // Settings that do not parse name the file.
    std::fs::write(&settings, r#"{"subnet": "10.77.0.0/33"}"#).unwrap();
    let out = small.run(&["--net", "bridge"], &["/bin/true"]);
    assert_eq!(out.code, 125, "{out:?}");
    assert!(
        out.stderr.contains("bridge.json") && out.stderr.contains("subnet"),
        "{out:?}"
    );
    std::fs::write(&settings, r#"{"subnet": "10.77.0.0/24", "colour": "red"}"#).unwrap();
    let out = small.run(&["--net", "bridge"], &["/bin/true"]);
    assert_eq!(out.code, 125, "{out:?}");
    assert!(out.stderr.contains("colour"), "{out:?}");
    small.assert_no_leftovers();
}

#[test]
fn concurrent_first_starts_make_one_bridge_and_two_addresses() {
    if common::skip_without_any(&["bridge"]) {
        return;
    }
    own_network();
    let a = Container::new("net-race-a");
    let b = a.sibling("b");
    let script = "ip -4 -o addr show eth0 | grep -o '10\\.199\\.0\\.[0-9]*'";
    let (ca, cb) = (bridged(&a, &[], script), bridged(&b, &[], script));
    let (ta, tb) = (
        std::thread::spawn(move || output(ca)),
        std::thread::spawn(move || output(cb)),
    );
    let (oa, ob): (Output, Output) = (ta.join().unwrap(), tb.join().unwrap());
    assert_eq!((oa.code, ob.code), (0, 0), "{oa:?}\n{ob:?}");
    assert_ne!(oa.stdout, ob.stdout, "two addresses");
    b.assert_no_leftovers();
    a.assert_no_leftovers();
    assert_no_network_leftovers(&a);
}

#[test]
fn stopping_a_container_whose_veth_was_deleted_still_cleans_its_lease() {
    if common::skip_without_any(&["bridge", "named"]) {
        return;
    }
    own_network();
    let lc = common::named::Lc::new("net-named");
    lc.create(
        "netd",
        &["--net", "bridge", "--ip", "10.199.0.9"],
        "echo up; sleep 600",
    );
    lc.ok(&["start", "netd"]);
    let lease_file = lc.root.join("run/net/qing0.leases");
    assert_eq!(
        std::fs::read_to_string(&lease_file).unwrap(),
        "10.199.0.9 netd\n"
    );
    let shown = lc.ok(&["net"]);
    assert!(
        shown.contains("10.199.0.9") && shown.contains("netd"),
        "{shown}"
    );
    let json = lc.ok(&["net", "--json"]);
    assert!(json.contains(r#""address":"10.199.0.9""#), "{json}");
    let out = lc.q(&["net", "down"]);
    assert_eq!(out.code, 125, "{out:?}");
    assert!(out.stderr.contains("in use by netd"), "{out:?}");

    let deleted = Command::new("ip")
        .args(["link", "del", "qv9"])
        .status()
        .unwrap();
    assert!(deleted.success(), "the host end is qv9");
    lc.ok(&["stop", "netd"]);
    lc.assert_gone("netd");
    assert_eq!(std::fs::read_to_string(&lease_file).unwrap_or_default(), "");
    assert!(!links().iter().any(|l| l.starts_with("qv")));
    lc.ok(&["net", "down"]);
    assert!(
        !links().contains(&"qing0".to_string()),
        "down removes the bridge"
    );
}

#[test]
fn a_container_can_join_the_network_of_another() {
    if common::skip_without_any(&["bridge", "named"]) {
        return;
    }
    own_network();
    let server = Container::new("net-main");
    let mut srv = start_echo_service(&server, "10.199.0.60", 7100);

    let sidecar = server.sibling("sidecar");
    let joined = format!("container:{}", server.name);
    let out = sidecar.sh(
        &["--net", &joined],
        "ip -4 -o addr show eth0 | grep -o '10\\.199\\.0\\.60'; \
         for i in 1 2 3 4 5 6 7 8 9 10; do echo over-loopback | busybox nc -w 2 127.0.0.1 7100 && break; sleep 0.2; done",
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, "10.199.0.60\nover-loopback\n", "{out:?}");
    sidecar.assert_no_leftovers();

    let out = sidecar.run(&["--net", "container:nosuch"], &["/bin/true"]);
    assert_eq!(out.code, 125, "{out:?}");
    assert!(
        out.stderr
            .contains("no container named \"nosuch\" is running"),
        "{out:?}"
    );
    let out = sidecar.run(&["--net", "container:bad/name"], &["/bin/true"]);
    assert_eq!(out.code, 125, "{out:?}");
    assert!(out.stderr.contains("--net container:bad/name"), "{out:?}");
    sidecar.assert_no_leftovers();

    stop(&mut srv);
    server.assert_no_leftovers();
    assert_no_network_leftovers(&server);
}

/// Covers for every copy of `tools` where qing looks for them: /dev/null over each.
fn tool_paths(tools: &[&str]) -> Vec<(PathBuf, PathBuf)> {
    ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        .iter()
        .flat_map(|dir| tools.iter().map(move |tool| Path::new(dir).join(tool)))
        .filter(|p| p.exists())
        .map(|p| (PathBuf::from("/dev/null"), p))
        .collect()
}

/// `ip ARGS` in this test's namespace, or with `netns` in another process's.
fn ip(netns: Option<u32>, args: &str) {
    let mut c = match netns {
        Some(pid) => {
            let mut c = Command::new("nsenter");
            c.args(["-t", &pid.to_string(), "-n", "ip"]);
            c
        }
        None => Command::new("ip"),
    };
    let status = c.args(args.split(' ')).status().unwrap();
    assert!(status.success(), "ip {args}");
}

#[test]
fn nat_takes_bridged_containers_beyond_the_host_and_goes_with_net_down() {
    if common::skip_without_any(&["bridge"]) {
        return;
    }
    own_network();
    // An outside host: a process in a network namespace of its own, linked to this
    // one by a veth; it has no route back to the bridge's subnet.
    let mut outside = Command::new("unshare")
        .args(["-n", "sleep", "120"])
        .spawn()
        .unwrap();
    let pid = outside.id();
    let ours = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
    wait_until("the outside namespace", || {
        std::fs::read_link(format!("/proc/{pid}/ns/net")).is_ok_and(|n| n != ours)
    });
    ip(None, "link add up0 type veth peer name up1");
    ip(None, &format!("link set up1 netns {pid}"));
    ip(None, "addr add 192.0.2.2/24 dev up0");
    ip(None, "link set up0 up");
    ip(Some(pid), "addr add 192.0.2.1/24 dev up1");
    ip(Some(pid), "link set up1 up");

    let c = Container::new("net-nat");
    let ping = "ping -c 1 -W 3 192.0.2.1 >/dev/null && echo reached";
    let out = c.sh(&["--net", "bridge"], ping);
    assert_ne!(out.stdout, "reached\n", "no NAT yet: {out:?}");
    // Each tool qing knows, the other hidden from it: a board has one or the other.
    for (tool, other) in [("nft", "iptables"), ("iptables", "nft")] {
        let net = |args: &[&str]| {
            let mut q = Command::new(common::qing_bin());
            q.arg("--root").arg(&c.state_root).args(["net"]).args(args);
            common::with_paths_covered(&mut q, tool_paths(&[other]));
            output(q)
        };
        let settings = c.state_root.join("etc/net/bridge.json");
        std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
        std::fs::write(&settings, r#"{"nat": true}"#).unwrap();
        let up = net(&["up"]);
        assert_eq!(up.code, 0, "{tool}: {up:?}");
        let out = c.sh(&["--net", "bridge"], ping);
        assert_eq!(out.stdout, "reached\n", "{tool}: {out:?}");
        assert!(net(&[]).stdout.contains("NAT on"));

        let down = net(&["down"]);
        assert_eq!(down.code, 0, "{tool}: {down:?}");
        let rules = match tool {
            "nft" => Command::new("nft").args(["list", "ruleset"]).output(),
            _ => Command::new("iptables-save").output(),
        };
        let rules = String::from_utf8_lossy(&rules.unwrap().stdout).into_owned();
        assert!(
            !rules.contains("10.199.0.0/24"),
            "{tool} rules left: {rules}"
        );

        // `qing net up --nat`: NAT without the setting, until `qing net down`.
        std::fs::remove_file(&settings).unwrap();
        assert_eq!(net(&["--nat"]).code, 125, "--nat is for up");
        let up = net(&["up", "--nat"]);
        assert_eq!(up.code, 0, "{tool}: {up:?}");
        let out = c.sh(&["--net", "bridge"], ping);
        assert_eq!(out.stdout, "reached\n", "{tool}: {out:?}");
        assert!(net(&[]).stdout.contains("NAT on"));
        assert_eq!(net(&["down"]).code, 0);
        assert!(net(&[]).stdout.contains("NAT off"));
        let out = c.sh(&["--net", "bridge"], ping);
        assert_ne!(
            out.stdout, "reached\n",
            "{tool}: NAT went with net down: {out:?}"
        );
        assert_eq!(net(&["down"]).code, 0);
    }
    c.assert_no_leftovers();
    assert_no_network_leftovers(&c);

    // A board with neither nft nor iptables: a clear error naming both.
    let mut q = Command::new(common::qing_bin());
    q.arg("--root")
        .arg(&c.state_root)
        .args(["net", "up", "--nat"]);
    common::with_paths_covered(&mut q, tool_paths(&["nft", "iptables"]));
    let out = output(q);
    assert_eq!(out.code, 125, "{out:?}");
    assert!(
        out.stderr.contains("needs nft (nftables) or iptables"),
        "{out:?}"
    );
    let _ = c.q(&["net", "down"]);
    outside.kill().unwrap();
    outside.wait().unwrap();
}

#[test]
fn of_two_containers_asking_for_one_address_at_once_one_gets_a_clear_error() {
    if common::skip_without_any(&["bridge"]) {
        return;
    }
    own_network();
    let a = Container::new("net-same-a");
    let b = a.sibling("b");
    let ask = "sleep 2";
    let (ca, cb) = (
        bridged(&a, &["--ip", "10.199.0.70"], ask),
        bridged(&b, &["--ip", "10.199.0.70"], ask),
    );
    let (ta, tb) = (
        std::thread::spawn(move || output(ca)),
        std::thread::spawn(move || output(cb)),
    );
    let (oa, ob): (Output, Output) = (ta.join().unwrap(), tb.join().unwrap());
    let mut codes = [oa.code, ob.code];
    codes.sort();
    assert_eq!(codes, [0, 125], "{oa:?}\n{ob:?}");
    let refused = if oa.code == 125 { &oa } else { &ob };
    assert!(
        refused.stderr.contains("--ip 10.199.0.70: container"),
        "{refused:?}"
    );
    a.assert_no_leftovers();
    b.assert_no_leftovers();
    assert_no_network_leftovers(&a);
}
