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
use common::service::{assert_answered, default_command, probe_file, template};
use common::{loops_backed_by, Container};

fn sample_service_answers(name: &str, arch: &str, runtime: &str, memory: &str) {
    let manifest = template(name, arch);
    let dir = manifest.parent().unwrap();
    let command = default_command(&manifest);
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
        let loops = loops_backed_by(dir);
        assert!(loops.is_empty(), "{what}: loop devices left: {loops:?}");
    }
    let _ = std::fs::remove_file(&probe);
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
