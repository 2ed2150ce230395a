//! Volumes: host paths bound into real containers.

mod common;
use common::{Container, RootfsCopy};
use std::path::PathBuf;

struct HostDir(PathBuf);

impl HostDir {
    fn new(tag: &str) -> HostDir {
        let d = std::env::temp_dir().join(format!("qing-vol-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        HostDir(d)
    }
    fn spec(&self, dest: &str, mode: &str) -> String {
        format!("{}:{dest}{mode}", self.0.display())
    }
}

impl Drop for HostDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_read_write_volume_shares_files_both_ways() {
    let host = HostDir::new("rw");
    std::fs::write(host.0.join("in"), "from-host").unwrap();
    let c = Container::new("vol-rw");
    let out = c.sh_ok(
        &["--volume", &host.spec("/data", "")],
        "cat /data/in; echo from-container > /data/out",
    );
    assert_eq!(out, "from-host");
    assert_eq!(
        std::fs::read_to_string(host.0.join("out")).unwrap(),
        "from-container\n"
    );
    c.assert_no_leftovers();
}

#[test]
fn a_read_only_volume_refuses_writes_including_in_its_submounts() {
    let host = HostDir::new("ro");
    std::fs::write(host.0.join("in"), "x").unwrap();
    let c = Container::new("vol-ro");
    let out = c.sh(
        &["--volume", &host.spec("/data", ":ro")],
        "cat /data/in; touch /data/new 2>&1; grep ' /data ' /proc/self/mountinfo",
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("Read-only file system"), "{out:?}");
    assert!(out.stdout.contains(" /data ro,"), "{out:?}");
    assert!(!host.0.join("new").exists());
    c.assert_no_leftovers();
}

#[test]
fn missing_destinations_are_created_and_files_bind_onto_files() {
    let host = HostDir::new("file");
    let file = host.0.join("config.txt");
    std::fs::write(&file, "setting=1").unwrap();
    let c = Container::new("vol-file");
    let spec = format!("{}:/etc/app/config.txt:ro", file.display());
    let out = c.sh_ok(
        &[
            "--volume",
            &spec,
            "--volume",
            &host.spec("/deep/new/dir", ""),
        ],
        "cat /etc/app/config.txt; ls /deep/new/dir",
    );
    assert_eq!(out, "setting=1config.txt\n");
    c.assert_no_leftovers();
}

#[test]
fn a_directory_onto_a_file_is_a_clear_error() {
    let host = HostDir::new("mismatch");
    let c = Container::new("vol-mismatch");
    let out = c.sh(&["--volume", &host.spec("/etc/passwd", "")], "true");
    assert_eq!(out.code, 125, "{out:?}");
    assert!(
        out.stderr
            .contains("is a directory but /etc/passwd in the container is a file"),
        "{out:?}"
    );
    c.assert_no_leftovers();
}

#[test]
fn a_read_only_root_cannot_grow_mount_points_for_volumes() {
    let host = HostDir::new("ro-root");
    let copy = RootfsCopy::new("vol-ro-root");
    let c = Container::new("vol-ro-root");
    let out = c.run_in(
        &copy.0,
        &["--read-only", "--volume", &host.spec("/missing", "")],
        &["/bin/true"],
    );
    assert_eq!(out.code, 125, "{out:?}");
    assert!(out.stderr.contains("/missing"), "{out:?}");
    let ok = c.run_in(
        &copy.0,
        &["--read-only", "--volume", &host.spec("/home", "")],
        &["/bin/sh", "-c", "touch /home/x && echo ok"],
    );
    assert_eq!(ok.stdout, "ok\n", "{ok:?}");
    c.assert_no_leftovers();
}

#[test]
fn a_volume_holding_qings_own_state_does_not_show_the_container_to_itself() {
    let c = Container::new("vol-self");
    // The volume's source holds the state root, whose scratch holds the container's
    // own root while it runs.
    let spec = format!("{}:/state", c.state_root.display());
    let out = c.sh_ok(
        &["--volume", &spec],
        "grep -c ' /state/' /proc/self/mountinfo; ls -A /state/run/scratch | wc -l",
    );
    assert_eq!(
        out, "0\n0\n",
        "the container's own mounts showed through the volume"
    );
    c.assert_no_leftovers();
}
