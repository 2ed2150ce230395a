//! `--device`: a host device node given to the container works although every mount
//! the container can write is nodev, lands exactly where it was asked, and bad
//! requests are refused before anything exists.

mod common;
use common::{rootfs, Container, RootfsCopy};
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};

/// A pseudo-terminal pair of the host, as a board's UART would be reached: the
/// master here, the slave's path for --device.
fn host_pty() -> (std::fs::File, String) {
    // SAFETY: plain libc calls on a descriptor this function owns from the start.
    unsafe {
        let fd = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(fd >= 0, "posix_openpt: {}", std::io::Error::last_os_error());
        let master = std::fs::File::from(OwnedFd::from_raw_fd(fd));
        assert_eq!(libc::grantpt(fd), 0);
        assert_eq!(libc::unlockpt(fd), 0);
        let mut name = [0 as libc::c_char; 64];
        assert_eq!(libc::ptsname_r(fd, name.as_mut_ptr(), name.len()), 0);
        let path = std::ffi::CStr::from_ptr(name.as_ptr())
            .to_string_lossy()
            .into_owned();
        (master, path)
    }
}

#[test]
fn a_host_terminal_given_as_a_device_carries_data_both_ways() {
    let c = Container::new("dev-pty");
    let (mut master, slave) = host_pty();
    // The container reads a line the host wrote, and answers on the same node.
    master.write_all(b"ping\n").unwrap();
    let device = format!("{slave}:/dev/ttyS9");
    let out = c.sh_ok(
        &["--device", &device],
        "read line </dev/ttyS9; echo \"got $line\"; echo pong >/dev/ttyS9",
    );
    assert_eq!(out, "got ping\n");
    let mut answer = vec![0u8; 64];
    let n = master.read(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]).replace('\r', "");
    // The terminal echoes what it was sent, then the container's line.
    assert!(answer.ends_with("pong\n"), "{answer:?}");
    c.assert_no_leftovers();
}

#[test]
fn a_given_node_opens_although_dev_is_nodev_and_a_made_one_does_not() {
    let c = Container::new("dev-full");
    // /dev/full is the host's (1:7): writing to it fails with ENOSPC, so the write
    // reached the device. The same node made inside cannot be opened at all.
    let out = c.sh(
        &["--device", "/dev/full:/dev/serial/by-id/full"],
        "echo x >/dev/serial/by-id/full; mknod /dev/made c 1 7 && echo y >/dev/made",
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("No space left on device") && out.stderr.contains("Permission denied"),
        "{out:?}"
    );
    // Two at once, one at its host path.
    let out = c.sh_ok(
        &["--device", "/dev/full", "--device", "/dev/zero:/dev/z:rwm"],
        "ls -l /dev/full /dev/z | cut -c1-1; head -c 3 /dev/z | od -An -tx1",
    );
    assert_eq!(out, "c\nc\n 00 00 00\n");
    c.assert_no_leftovers();
}

#[test]
fn bad_devices_are_refused_naming_what_is_wrong_and_leave_nothing() {
    let c = Container::new("dev-bad");
    // An image with a symlink on the way to the asked place.
    let image = RootfsCopy::new("dev-link");
    std::os::unix::fs::symlink("/etc", image.0.join("opt-link")).unwrap();
    let image_path = image.0.display().to_string();
    let r = rootfs().display().to_string();
    let cases: [(&[&str], &str, &[&str]); 9] = [
        (
            &["--device", "/etc/passwd"],
            &r,
            &["/etc/passwd", "not a character or block device"],
        ),
        (
            &["--device", "/dev/no-such-node"],
            &r,
            &["/dev/no-such-node", "no such node"],
        ),
        (
            &["--device", "/dev/full:r"],
            &r,
            &["--device", "cannot be enforced"],
        ),
        (
            &["--device", "/dev/full:/dev/f:rx"],
            &r,
            &["--device", "r, w and m"],
        ),
        (&["--device", "dev/full"], &r, &["--device", "absolute"]),
        (
            &["--device", "/dev/full:/dev/../etc/x"],
            &r,
            &["--device", ".."],
        ),
        (
            &["--device", "/dev/full:/a:/b:rw"],
            &r,
            &["--device", "too many"],
        ),
        (
            &["--device", "/dev/full:/opt-link/full"],
            &image_path,
            &["--device /dev/full", "opt-link", "symlink"],
        ),
        (
            &["--device", "/dev/full:/dev/fd/9"],
            &r,
            &["--device /dev/full", "fd", "symlink"],
        ),
    ];
    for (opts, root, says) in cases {
        let out = c.run_in(std::path::Path::new(root), opts, &["/bin/true"]);
        assert_eq!(out.code, 125, "{opts:?}: {out:?}");
        for s in says {
            assert!(out.stderr.contains(s), "{opts:?} should say {s:?}: {out:?}");
        }
        c.assert_no_leftovers();
    }
    assert!(
        !image.0.join("etc/full").exists(),
        "nothing written through the link"
    );
}

#[test]
fn a_configs_devices_key_gives_the_nodes() {
    if common::skip_without_any(&["named"]) {
        return;
    }
    let lc = common::named::Lc::new("devcfg");
    lc.create(
        "devcfg",
        &["--device", "/dev/full:/dev/f"],
        "echo x >/dev/f || echo failed",
    );
    let config = std::fs::read_to_string(lc.root.join("etc/devcfg.json")).unwrap();
    assert!(
        config.contains(r#""devices": ["/dev/full:/dev/f"]"#),
        "{config}"
    );
    lc.ok(&["start", "devcfg"]);
    lc.wait_for("the container's end", || {
        lc.q(&["status", "devcfg"]).code == 3
    });
    let log = lc.log("devcfg");
    assert!(
        log.contains("No space left on device") && log.contains("failed"),
        "{log}"
    );
    lc.assert_gone("devcfg");
}
