//! rootfs-templates/build.sh's options for one application's template, on the Go recipe
//! (the quickest to build): a Go module becomes a template that runs as a directory, a
//! squashfs image and a Docker image, and rebuilds byte-identically; a template whose
//! check fails is never written; options a recipe does not take are refused before
//! anything is built. The Python and Java apps are in python_apps.rs and java_apps.rs.

mod common;
use common::apps;
use std::path::{Path, PathBuf};

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("qing-test-apps-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn greeter() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/apps/go/greeter")
        .display()
        .to_string()
}

#[test]
fn a_go_module_becomes_a_template_that_runs_as_directory_image_and_docker_image_on_amd64() {
    if common::skip_without("squashfs") {
        return;
    }
    let out = scratch("go");
    let args = ["--app", &greeter(), "--check", "/app/greeter"];
    let manifest = apps::build_app("go", "amd64", &out, &args);
    assert_eq!(manifest, out.join("greeter.json"));
    let text = std::fs::read_to_string(&manifest).unwrap();
    assert!(text.contains("\"variant\": \"app\""), "{text}");
    assert!(text.contains("\"/app/greeter\""), "{text}");
    // What the binary holds: the app's packages and the standard library's it reaches,
    // each with the import that pulled it in.
    let kept = apps::kept(&manifest);
    for package in ["qing.test/greeter", "qing.test/words", "crypto/x509", "fmt"] {
        assert!(
            kept.iter().any(|k| k == package),
            "{package} not in {kept:?}"
        );
    }
    let why = apps::kept_with_why(&manifest);
    assert!(
        why.iter()
            .any(|(m, w)| m == "qing.test/words" && w == "import in qing.test/greeter"),
        "{why:?}"
    );
    // Nothing the app does not import: it serves nothing.
    assert!(!kept.iter().any(|k| k == "net/http"), "{kept:?}");
    apps::assert_runs_from_image_and_directory(
        &manifest,
        &[],
        "ok greeter: hello, board (PORT=8080)",
    );
    apps::assert_rebuilds_identically("go", "amd64", &manifest, &args);
    if !common::docker::skip_without_docker() {
        let engine = common::docker::Engine::start();
        apps::assert_runs_under_docker(&engine, &manifest, "ok greeter: hello, board");
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_foreign_go_app_is_checked_under_qemu_user_on_amd64() {
    if common::skip_without("squashfs")
        || common::skip_unless(
            common::qemu_user("aarch64"),
            "qemu-user for aarch64 (cross/qemu-user.sh aarch64; tests/run.sh does)",
        )
    {
        return;
    }
    let out = scratch("go-arm64");
    let built = apps::build(
        "go",
        "arm64",
        &out,
        &["--app", &greeter(), "--check", "/app/greeter"],
    );
    assert_eq!(built.code, 0, "{built:?}");
    assert!(
        built.stderr.contains("ok greeter: hello, board"),
        "the check's output is the build's: {built:?}"
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_template_whose_check_fails_is_not_written_on_amd64() {
    let out = scratch("check-fails");
    for (check, status) in [
        ("/app/greeter --fail", "status 3"),
        ("/no/such/command", "status 127"),
    ] {
        let built = apps::build(
            "go",
            "amd64",
            &out,
            &["--app", &greeter(), "--check", check],
        );
        assert_ne!(built.code, 0, "{built:?}");
        assert!(
            built
                .stderr
                .contains(&format!("the check of greeter failed ({status})")),
            "{built:?}"
        );
        assert!(
            common::entries(&out).is_empty(),
            "a failed check left {:?} in {}",
            common::entries(&out),
            out.display()
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn build_options_are_checked_before_anything_is_built() {
    let out = scratch("options");
    let cases: &[(&[&str], &str)] = &[
        (
            &["busybox", "amd64", "--full"],
            "the busybox template takes no --full",
        ),
        (
            &["go", "amd64", "--requirements", "/etc/hostname"],
            "the go template takes no --requirements",
        ),
        (&["go", "amd64", "--bogus"], "unknown option '--bogus'"),
        (
            &["go", "amd64", "--app", "/nonexistent"],
            "--app /nonexistent: no such file",
        ),
        (&["go", "amd64", "--command", "/app/x"], "need --app"),
        (
            &["java", "amd64", "--app", "/tmp", "--bytecode"],
            "the java template takes no --bytecode",
        ),
        (&["python", "amd64", "--bytecode"], "--bytecode needs --app"),
        (
            &["go", "amd64", "--app", "/tmp", "--name", "../x"],
            "cannot name a template",
        ),
        (
            &["go", "amd64", "--app", "/tmp", "--command", "[1]"],
            "give words or a JSON array",
        ),
        (
            &["go", "amd64", "--app", "/tmp", "--check", "'unclosed"],
            "give words or a JSON array",
        ),
        (&["go", "amd64", "--app"], "--app needs a value"),
        (&["go", "mips64", "--app", "/tmp"], "unknown ARCH 'mips64'"),
        (&["nosuch", "amd64"], "unknown template 'nosuch'"),
    ];
    for (args, message) in cases {
        let mut c = std::process::Command::new(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("rootfs-templates/build.sh"),
        );
        c.args(&args[..2]).arg(&out).args(&args[2..]);
        let got = common::output(c);
        assert_eq!(got.code, 2, "{args:?}: {got:?}");
        assert!(
            got.stderr.contains(message),
            "{args:?}: want {message:?} in {got:?}"
        );
        assert!(!out.exists(), "{args:?} made {}", out.display());
    }
}
