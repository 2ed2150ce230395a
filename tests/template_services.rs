//! The runtime templates, each run by qing as a board would: its sample service starts
//! from the squashfs image and from the directory, under a memory limit, and answers
//! a JSON request on the container's own loopback. The HTTP client is the busybox
//! binary of the same architecture, bound in as a volume (the Go and Java templates
//! have no shell). arm64 runs here through qemu-user (binfmt with the F flag).
//!
//! QING_TEMPLATES=DIR gives DIR/ARCH/NAME.{json,squashfs} and DIR/ARCH/NAME/, as
//! tests/run.sh builds them; without it the templates are built under target/.
//! Tests named `on_amd64` run on the build machine only (tests/run.sh skips them in
//! the qemu-user pass).

mod common;
use common::service::{assert_answered, probe_file, service_command, template};
use common::{loops_backed_by, Container};

/// Whether a test of `arch`'s templates can run here, and if not why (by hand: a
/// machine without qemu-user for it).
fn skip(arch: &str) -> bool {
    let (native, qemu) = match arch {
        "amd64" => ("x86_64", "x86_64"),
        "arm64" => ("aarch64", "aarch64"),
        "armhf" => ("arm", "arm"),
        other => (other, other),
    };
    common::skip_without("squashfs")
        || common::skip_unless(
            std::env::consts::ARCH == native || common::qemu_user(qemu),
            &format!("qemu-user for {qemu} (cross/qemu-user.sh {qemu}; tests/run.sh does)"),
        )
}

fn sample_service_answers(name: &str, arch: &str, runtime: &str, memory: &str) {
    if skip(arch) {
        return;
    }
    let manifest = template(name, arch);
    let dir = manifest.parent().unwrap();
    let command = service_command(&manifest);
    let busybox = template("busybox", arch).with_file_name("busybox/bin/busybox");
    let probe = probe_file(&format!("{name}-{arch}"));
    let client = format!("{}:/.qt/busybox:ro", busybox.display());
    let script = format!("{}:/.qt/probe.sh:ro", probe.display());

    for rootfs in [dir.join(format!("{name}.squashfs")), dir.join(name)] {
        let c = Container::new(&format!("svc-{name}-{arch}"));
        let mut argv = vec!["/.qt/busybox", "sh", "/.qt/probe.sh"];
        argv.extend(command.iter().map(String::as_str));
        let out = c.run_in(
            &rootfs,
            &["--memory", memory, "--volume", &client, "--volume", &script],
            &argv,
        );
        let what = format!("{name} ({arch}) from {}", rootfs.display());
        assert_eq!(out.code, 0, "{what}: {out:?}");
        assert_answered(&out.stdout, runtime, &what);
        c.assert_no_leftovers();
        // Only this image's: the other tests run other images of the same directory.
        let loops = loops_backed_by(&dir.join(format!("{name}.squashfs")));
        assert!(loops.is_empty(), "{what}: loop devices left: {loops:?}");
    }
    let _ = std::fs::remove_file(&probe);
}

#[test]
fn the_busybox_service_answers_from_the_image_and_the_directory_on_amd64() {
    sample_service_answers("busybox", "amd64", "busybox", "32m");
}

#[test]
fn the_busybox_service_answers_on_arm64_under_qemu_user() {
    sample_service_answers("busybox", "arm64", "busybox", "256m");
}

#[test]
fn the_python_service_answers_from_the_image_and_the_directory_on_amd64() {
    sample_service_answers("python", "amd64", "python", "64m");
}

#[test]
fn the_go_service_answers_from_the_image_and_the_directory_on_amd64() {
    sample_service_answers("go", "amd64", "go", "32m");
}

#[test]
fn the_java_service_answers_from_the_image_and_the_directory_on_amd64() {
    sample_service_answers("java", "amd64", "java", "128m");
}

// Under qemu-user the emulator itself lives in the container's memory cgroup.

#[test]
fn the_python_service_answers_on_arm64_under_qemu_user() {
    sample_service_answers("python", "arm64", "python", "256m");
}

#[test]
fn the_go_service_answers_on_arm64_under_qemu_user() {
    sample_service_answers("go", "arm64", "go", "256m");
}

#[test]
fn the_java_service_answers_on_arm64_under_qemu_user() {
    sample_service_answers("java", "arm64", "java", "512m");
}

/// A throwaway CA and a server certificate for localhost signed by it, made with the
/// host's openssl (tests/common/certs.sh), for the TLS checks.
fn tls_files(dir: &std::path::Path) {
    let out = std::process::Command::new("sh")
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/common/certs.sh"))
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "certs.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The trimmed standard library does what services need: json, re, datetime, sockets,
/// http.server with http.client and urllib, threading, logging, hashlib, struct,
/// sqlite3 (in memory and on a file), ssl with the CA bundle, and a verified TLS
/// handshake on loopback. rootfs-templates/python/check_modules.py is each check.
fn python_standard_library_works(arch: &str, memory: &str) {
    if skip(arch) {
        return;
    }
    let manifest = template("python", arch);
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let tls = std::env::temp_dir().join(format!("qing-test-tls-{arch}-{}", std::process::id()));
    tls_files(&tls);
    let check = repo.join("rootfs-templates/python/check_modules.py");
    let c = Container::new(&format!("py-stdlib-{arch}"));
    let out = c.run_in(
        &manifest.with_extension("squashfs"),
        &[
            "--memory",
            memory,
            "--user",
            "app",
            "--volume",
            &format!("{}:/.qt/check.py:ro", check.display()),
            "--volume",
            &format!("{}:/.qt/tls:ro", tls.display()),
        ],
        &[
            "/usr/bin/python3",
            "/.qt/check.py",
            "/.qt/tls/ca.crt",
            "/.qt/tls/server.crt",
            "/.qt/tls/server.key",
        ],
    );
    let _ = std::fs::remove_dir_all(&tls);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.ends_with("ALL OK\n"), "{out:?}");
    assert!(!out.stdout.contains("FAIL"), "{out:?}");
    for name in ["json", "sqlite3", "TLS handshake", "hashlib", "urllib"] {
        assert!(
            out.stdout
                .lines()
                .any(|l| l.starts_with("ok") && l.contains(name)),
            "no passing {name} check: {out:?}"
        );
    }
    c.assert_no_leftovers();
}

#[test]
fn the_python_standard_library_works_on_amd64() {
    python_standard_library_works("amd64", "64m");
}

#[test]
fn the_python_standard_library_works_on_arm64_under_qemu_user() {
    python_standard_library_works("arm64", "256m");
}

/// The JVM finds the container's memory limit (and so sizes its heap to it) where the
/// machine has cgroup v1, v2 or both.
#[test]
fn the_jvm_sees_the_containers_memory_limit_on_amd64() {
    if skip("amd64") {
        return;
    }
    let manifest = template("java", "amd64");
    let c = Container::new("jvm-limit");
    let out = c.run_in(
        &manifest.with_extension("squashfs"),
        &["--memory", "96m"],
        &["/opt/java/bin/java", "-XshowSettings:system", "-version"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("Memory Limit: 96.00M"), "{out:?}");
    c.assert_no_leftovers();
}
