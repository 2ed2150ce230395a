//! Templates on qing's side: squashfs images through loop devices, manifests and their
//! defaults, sha256 verification and its memory, installed templates, and persistent
//! overlays. The images are the busybox template that rootfs-templates/build.sh wrote
//! beside the test rootfs (busybox.squashfs and busybox.json).

mod common;
use common::{loops_backed_by, output, qing_bin, rootfs, Container};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A private directory holding a copy of the busybox image and its manifest.
struct Images(PathBuf);

impl Images {
    fn new(tag: &str) -> Images {
        let dir =
            std::env::temp_dir().join(format!("qing-test-images-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let built = rootfs().parent().unwrap();
        for f in ["busybox.squashfs", "busybox.json"] {
            std::fs::copy(built.join(f), dir.join(f)).unwrap();
        }
        Images(dir)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }

    fn image(&self) -> PathBuf {
        self.path("busybox.squashfs")
    }

    /// Writes NAME.json describing `image` (a file in this directory) with `extra`
    /// JSON members, and returns its path.
    fn manifest(&self, name: &str, image: &str, extra: &str) -> PathBuf {
        let sha = sha256_hex(&self.path(image));
        let text = format!(
            r#"{{"name": "{name}", "arch": "any", "squashfs": "{image}", "sha256": "{sha}"{extra}}}"#
        );
        let path = self.path(&format!("{name}.json"));
        std::fs::write(&path, text).unwrap();
        path
    }

    fn assert_no_loop_devices(&self) {
        let loops = loops_backed_by(&self.0);
        assert!(loops.is_empty(), "loop devices left behind: {loops:?}");
    }
}

impl Drop for Images {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn sha256_hex(path: &Path) -> String {
    let digest = Sha256::digest(std::fs::read(path).unwrap());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Changes one byte of `path` in place, keeping its size and putting its mtime back,
/// as silent corruption on flash would.
fn flip_byte(path: &Path, offset: u64) {
    use std::os::unix::fs::FileExt;
    let mtime = std::fs::metadata(path).unwrap().modified().unwrap();
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, offset).unwrap();
    f.write_all_at(&[b[0] ^ 0xff], offset).unwrap();
    f.set_modified(mtime).unwrap();
}

fn qing(c: &Container, args: &[&str]) -> common::Output {
    let mut cmd = Command::new(qing_bin());
    cmd.arg("--root").arg(&c.state_root).args(args);
    output(cmd)
}

#[test]
fn a_squashfs_image_runs_under_a_writable_overlay_and_is_never_changed() {
    if common::skip_without_any(&["squashfs"]) {
        return;
    }
    let images = Images::new("runs");
    let before = sha256_hex(&images.image());
    let c = Container::new("sqfs-runs");
    let out = c.run_in(
        &images.image(),
        &["--memory", "64m"],
        &[
            "/bin/sh",
            "-c",
            "echo written > /bin/new && cat /bin/new && grep -c ' - squashfs ' /proc/self/mountinfo; \
             touch /tmp/x && echo tmp-ok",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    // The squashfs itself is not visible inside: only the overlay over it.
    assert_eq!(out.stdout, "written\n0\ntmp-ok\n", "{out:?}");
    assert_eq!(
        sha256_hex(&images.image()),
        before,
        "the image must never change"
    );
    c.assert_no_leftovers();
    images.assert_no_loop_devices();

    let out = c.run_in(
        &images.image(),
        &["--read-only"],
        &["/bin/sh", "-c", "touch /bin/x"],
    );
    assert_ne!(out.code, 0, "a read-only root refuses writes: {out:?}");
    c.assert_no_leftovers();
    images.assert_no_loop_devices();
}

#[test]
fn a_manifest_gives_the_default_command_environment_and_working_directory() {
    if common::skip_without_any(&["squashfs"]) {
        return;
    }
    let images = Images::new("defaults");
    let extra = r#", "command": ["/bin/sh", "-c", "echo $GREETING from $(pwd) as $(id -u)"],
                   "env": ["GREETING=hello", "PATH=/bin"], "workdir": "/srv/app""#;
    let manifest = images.manifest("svc", "busybox.squashfs", extra);
    let c = Container::new("sqfs-defaults");
    let out = c.run_in(&manifest, &[], &[]);
    assert_eq!(out.stdout, "hello from /srv/app as 0\n", "{out:?}");
    // The user's options win over the manifest's.
    let out = c.run_in(
        &manifest,
        &["--env", "GREETING=hi", "--workdir", "/tmp"],
        &[],
    );
    assert_eq!(out.stdout, "hi from /tmp as 0\n", "{out:?}");
    let out = c.run_in(&manifest, &[], &["/bin/echo", "$GREETING"]);
    assert_eq!(out.stdout, "$GREETING\n", "{out:?}");
    c.assert_no_leftovers();

    // The manifest beside an image (NAME.json next to NAME.squashfs) belongs to it.
    std::fs::rename(images.path("svc.json"), images.path("busybox.json")).unwrap();
    let out = c.run_in(&images.image(), &[], &[]);
    assert_eq!(out.stdout, "hello from /srv/app as 0\n", "{out:?}");
    c.assert_no_leftovers();
    images.assert_no_loop_devices();
}

#[test]
fn a_corrupted_image_is_refused_and_nothing_is_mounted() {
    if common::skip_without_any(&["squashfs"]) {
        return;
    }
    let images = Images::new("corrupt");
    flip_byte(
        &images.image(),
        std::fs::metadata(images.image()).unwrap().len() / 2,
    );
    let c = Container::new("sqfs-corrupt");
    for rootfs in [images.image(), images.path("busybox.json")] {
        let out = c.run_in(&rootfs, &[], &["/bin/true"]);
        assert_eq!(out.code, 125, "{out:?}");
        assert!(
            out.stderr.contains("does not match its manifest"),
            "{out:?}"
        );
        assert!(out.stderr.contains("hint:"), "{out:?}");
        c.assert_no_leftovers();
        images.assert_no_loop_devices();
    }
}

#[test]
fn a_truncated_image_is_refused_with_or_without_a_manifest() {
    if common::skip_without_any(&["squashfs"]) {
        return;
    }
    let images = Images::new("truncated");
    let len = std::fs::metadata(images.image()).unwrap().len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(images.image())
        .unwrap();
    f.set_len(len / 2).unwrap();
    drop(f);
    std::fs::copy(images.image(), images.path("bare.squashfs")).unwrap();
    let c = Container::new("sqfs-truncated");
    for (image, says) in [
        ("busybox.squashfs", "truncated"),
        ("bare.squashfs", "truncated"),
    ] {
        let out = c.run_in(&images.path(image), &[], &["/bin/true"]);
        assert_eq!(out.code, 125, "{out:?}");
        assert!(out.stderr.contains(says), "{image}: {out:?}");
        c.assert_no_leftovers();
    }
    images.assert_no_loop_devices();
}

#[test]
fn manifests_that_point_nowhere_or_are_broken_are_refused() {
    if common::skip_without_any(&["squashfs"]) {
        return;
    }
    let images = Images::new("nowhere");
    let c = Container::new("sqfs-nowhere");
    let write = |name: &str, text: &str| {
        let p = images.path(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let sha = "0".repeat(64);
    let cases: Vec<(PathBuf, &str)> = vec![
        (
            write(
                "gone.json",
                &format!(r#"{{"name":"gone","squashfs":"gone.squashfs","sha256":"{sha}"}}"#),
            ),
            "does not exist",
        ),
        (
            write("dir.json", r#"{"name":"dir","directory":"missing-dir"}"#),
            "does not exist",
        ),
        (
            write(
                "out.json",
                &format!(r#"{{"name":"out","squashfs":"../etc/passwd","sha256":"{sha}"}}"#),
            ),
            "file name",
        ),
        (
            write(
                "nosha.json",
                r#"{"name":"nosha","squashfs":"busybox.squashfs"}"#,
            ),
            "sha256",
        ),
        (
            write(
                "types.json",
                r#"{"name":"types","directory":"d","command":"/bin/sh"}"#,
            ),
            "\"command\"",
        ),
        (write("empty.json", r#"{"name":"empty"}"#), "neither"),
        (write("array.json", "[1, 2]"), "not a JSON object"),
        (write("junk.json", "{\"name\": \"junk\","), "not valid JSON"),
    ];
    for (manifest, says) in cases {
        let out = c.run_in(&manifest, &[], &["/bin/true"]);
        assert_eq!(out.code, 125, "{}: {out:?}", manifest.display());
        assert!(
            out.stderr.contains(says),
            "{}: should say {says:?}: {out:?}",
            manifest.display()
        );
        c.assert_no_leftovers();
    }
    // A broken manifest beside an image is an error too, never silently skipped: it
    // is what the image is verified against.
    std::fs::write(images.path("busybox.json"), "{").unwrap();
    let out = c.run_in(&images.image(), &[], &["/bin/true"]);
    assert_eq!(out.code, 125, "{out:?}");
    assert!(out.stderr.contains("busybox.json"), "{out:?}");
    // ... and so is one that describes another image.
    std::fs::copy(images.image(), images.path("other.squashfs")).unwrap();
    images.manifest("busybox", "other.squashfs", "");
    let out = c.run_in(&images.image(), &[], &["/bin/true"]);
    assert_eq!(out.code, 125, "{out:?}");
    assert!(out.stderr.contains("describes another image"), "{out:?}");
    c.assert_no_leftovers();
    images.assert_no_loop_devices();
}

#[test]
fn an_unknown_template_name_is_refused() {
    if common::skip_without_any(&["squashfs"]) {
        return;
    }
    let c = Container::new("sqfs-unknown");
    let out = c.run_in(Path::new("no-such-template"), &[], &["/bin/true"]);
    assert_eq!(out.code, 125, "{out:?}");
    assert!(out.stderr.contains("no template of that name"), "{out:?}");
    assert!(out.stderr.contains("qing templates"), "{out:?}");
    c.assert_no_leftovers();
}

#[test]
fn an_imported_template_runs_by_name_and_is_listed_as_verified() {
    if common::skip_without_any(&["squashfs"]) {
        return;
    }
    let images = Images::new("import");
    let c = Container::new("sqfs-import");
    let out = qing(
        &c,
        &["import", &images.path("busybox.json").display().to_string()],
    );
    assert_eq!(out.code, 0, "{out:?}");
    // The installed copy stands alone: the source may go.
    drop(images);
    let out = c.run_in(
        Path::new("busybox"),
        &[],
        &["/bin/sh", "-c", "echo by-name"],
    );
    assert_eq!((out.code, out.stdout.as_str()), (0, "by-name\n"), "{out:?}");
    let out = qing(&c, &["templates", "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    let listed: miniserde::json::Value = miniserde::json::from_str(&out.stdout).unwrap();
    let miniserde::json::Value::Array(items) = listed else {
        panic!("{out:?}")
    };
    assert_eq!(items.len(), 1, "{out:?}");
    let text = miniserde::json::to_string(&items[0]);
    for want in [
        r#""name":"busybox""#,
        r#""verified":true"#,
        r#""state":"verified""#,
    ] {
        assert!(text.contains(want), "{text}");
    }
    let installed = c.state_root.join("lib/templates/busybox.squashfs");
    assert!(text.contains(&format!(
        r#""bytes":{}"#,
        std::fs::metadata(&installed).unwrap().len()
    )));
    let out = qing(&c, &["templates"]);
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("busybox") && l.ends_with("verified")),
        "{out:?}"
    );

    // Silent corruption of the installed image: no longer known good, and --verify
    // finds it.
    flip_byte(&installed, 4096);
    let out = qing(&c, &["templates"]);
    assert!(out.stdout.contains("not verified"), "{out:?}");
    let out = qing(&c, &["templates", "--verify"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stdout.contains("CORRUPT"), "{out:?}");
    let out = c.run_in(Path::new("busybox"), &[], &["/bin/true"]);
    assert_eq!(out.code, 125, "{out:?}");
    c.assert_no_leftovers();
}

#[test]
fn import_refuses_a_corrupt_image_and_installs_nothing() {
    if common::skip_without_any(&["squashfs"]) {
        return;
    }
    let images = Images::new("import-bad");
    flip_byte(&images.image(), 100);
    let c = Container::new("sqfs-import-bad");
    let out = qing(&c, &["import", &images.image().display().to_string()]);
    assert_eq!(out.code, 125, "{out:?}");
    assert!(out.stderr.contains("sha256"), "{out:?}");
    let installed: Vec<_> = std::fs::read_dir(c.state_root.join("lib/templates"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        installed.is_empty(),
        "nothing may be installed: {installed:?}"
    );
    let out = qing(
        &c,
        &["import", &images.path("missing.json").display().to_string()],
    );
    assert_eq!(out.code, 125, "{out:?}");
}

/// Bytes `qing run` has read so far, from /proc/PID/io.
fn bytes_read_by(pid: u32) -> u64 {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap();
    common::status_field(&io, "rchar").parse().unwrap()
}

#[test]
fn verification_is_remembered_until_the_image_changes() {
    if common::skip_without_any(&["squashfs"]) {
        return;
    }
    let images = Images::new("remember");
    let image_bytes = std::fs::metadata(images.image()).unwrap().len();
    let c = Container::new("sqfs-remember");
    let read_at_start = |c: &Container, rootfs: &Path| {
        let running = c.start_in(rootfs, &[], "echo up; read x; exit 0", "up");
        let read = bytes_read_by(running.child.id());
        assert_eq!(running.wait(), Some(0));
        c.assert_no_leftovers();
        read
    };
    // What a start reads anyway (under qemu-user, the emulator's own reads count too).
    let baseline = read_at_start(&c, rootfs());
    let extra = |c: &Container| read_at_start(c, &images.image()).saturating_sub(baseline);
    // Not exact: the two starts' own reads differ by a few bytes (PIDs have more or
    // fewer digits).
    let hashed = image_bytes * 9 / 10;
    let first = extra(&c);
    assert!(
        first >= hashed,
        "the first start hashes the image: {first} more bytes read than from a directory, the image has {image_bytes}"
    );
    assert!(
        extra(&c) < image_bytes / 4,
        "a second start does not hash again"
    );
    // Same content, but the file was written: hashed again (ctime changed), and good.
    flip_byte(&images.image(), 5000);
    flip_byte(&images.image(), 5000);
    assert!(extra(&c) >= hashed, "a rewritten image is hashed again");
    // Changed content with the mtime put back is caught.
    flip_byte(&images.image(), 5000);
    let out = c.run_in(&images.image(), &[], &["/bin/true"]);
    assert_eq!(out.code, 125, "{out:?}");
    c.assert_no_leftovers();
    images.assert_no_loop_devices();
}

#[test]
fn containers_of_one_image_share_one_loop_device_released_by_the_last() {
    if common::skip_without_any(&["squashfs"]) {
        return;
    }
    let images = Images::new("share");
    let a = Container::new("sqfs-share-a");
    let b = Container::new("sqfs-share-b");
    let first = a.start_in(&images.image(), &[], "echo up; read x; exit 0", "up");
    let second = b.start_in(
        &images.path("busybox.json"),
        &[],
        "echo up; read x; exit 0",
        "up",
    );
    assert_eq!(
        loops_backed_by(&images.0).len(),
        1,
        "one device for one image"
    );
    assert_eq!(first.wait(), Some(0));
    assert_eq!(
        loops_backed_by(&images.0).len(),
        1,
        "still used by the second"
    );
    assert_eq!(second.wait(), Some(0));
    images.assert_no_loop_devices();
    a.assert_no_leftovers();
    b.assert_no_leftovers();
}

#[test]
fn killing_qing_run_releases_the_image() {
    if common::skip_without_any(&["squashfs"]) {
        return;
    }
    let images = Images::new("kill");
    let c = Container::new("sqfs-kill");
    let running = c.start_in(&images.image(), &[], "echo up; sleep 60", "up");
    running.signal(nix::sys::signal::Signal::SIGKILL);
    assert_eq!(running.wait(), None);
    c.assert_no_leftovers_within(std::time::Duration::from_secs(5));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !loops_backed_by(&images.0).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    images.assert_no_loop_devices();
}

#[test]
fn an_overlay_dir_keeps_changes_across_runs_for_one_container_at_a_time() {
    if common::skip_without_any(&["squashfs"]) {
        return;
    }
    let images = Images::new("overlay");
    let layer = images.path("layer");
    std::fs::create_dir(&layer).unwrap();
    let opt = layer.display().to_string();
    let c = Container::new("sqfs-overlay");
    let out = c.run_in(
        &images.image(),
        &["--overlay", &opt],
        &["/bin/sh", "-c", "echo 1 >> /etc/runs; rm /bin/vi"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let out = c.run_in(
        &images.image(),
        &["--overlay", &opt],
        &[
            "/bin/sh",
            "-c",
            "echo 1 >> /etc/runs; wc -l < /etc/runs; ls /bin/vi",
        ],
    );
    assert_eq!(out.stdout, "2\n", "changes persist, deletions too: {out:?}");
    c.assert_no_leftovers();

    let other = Container::new("sqfs-overlay-2");
    let running = c.start_in(
        &images.image(),
        &["--overlay", &opt],
        "echo up; read x; exit 0",
        "up",
    );
    let out = other.run_in(&images.image(), &["--overlay", &opt], &["/bin/true"]);
    assert_eq!(out.code, 125, "{out:?}");
    assert!(
        out.stderr.contains("another container is using it"),
        "{out:?}"
    );
    other.assert_no_leftovers();
    assert_eq!(running.wait(), Some(0));

    for (opts, says) in [
        (
            vec!["--overlay", "/nonexistent-qing-dir"],
            "no such directory",
        ),
        (vec!["--overlay", "/etc/passwd"], "not a directory"),
        (vec!["--overlay", &opt, "--read-only"], "contradict"),
        (vec!["--overlay", ""], "empty"),
    ] {
        let out = c.run_in(&images.image(), &opts, &["/bin/true"]);
        assert_eq!(out.code, 125, "{opts:?}: {out:?}");
        assert!(out.stderr.contains(says), "{opts:?}: {out:?}");
        c.assert_no_leftovers();
    }
    images.assert_no_loop_devices();
}
