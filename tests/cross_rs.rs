//! cross-rs builds qing with the configuration in Cargo.toml ([package.metadata.cross])
//! and qing's own image (cross/Dockerfile): for each of the five targets, `cross build
//! --release --target T --bin qing` gives the very bytes `cross/build.sh T` gives, within
//! the budget. The real cross 0.2.5 from crates.io (tests/run.sh installs it), a real
//! Docker engine (tests/docker/engine.sh), and a Debian 12 base made by debootstrap and
//! imported as debian:12 (tests/docker/debian-base.sh), since no image can be pulled.
//!
//! The image's build reaches Debian's mirror and, for MIPS, the Python package index
//! (zig); the build inside it runs with no network at all (`--network none`): what
//! cargo needs is in the cargo home that cross mounts.

mod common;
use common::docker::Engine;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The size budget of every release build (README, "Size").
const BUDGET: u64 = 512_000;

/// cross: QING_CROSS, or where tests/run.sh installs it, or PATH's.
fn cross_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("QING_CROSS") {
        return PathBuf::from(p);
    }
    let cache = std::env::var("QING_CACHE").unwrap_or_else(|_| "/var/cache/qing".into());
    let installed = PathBuf::from(cache).join("cross-rs/bin/cross");
    if installed.exists() {
        return installed;
    }
    PathBuf::from("cross")
}

/// Outside any cargo project: in one, `cross --version` goes through its whole build
/// setup for the host's default toolchain, `rustup` updates included.
fn has_cross() -> bool {
    Command::new(cross_bin())
        .arg("--version")
        .current_dir("/")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The nightly cross/build.sh builds with (installed on first use).
fn nightly() -> String {
    let out = common::output({
        let mut c = Command::new("bash");
        c.arg("-c")
            .arg(". cross/toolchain/common.sh && ensure_nightly >&2 && echo \"$nightly\"")
            .current_dir(repo());
        c
    });
    assert_eq!(out.code, 0, "{out:?}");
    out.stdout.trim().to_string()
}

/// `cross +NIGHTLY build --release --target TARGET --bin qing` in the tree, talking to
/// the engine, with the environment a user's shell would have: none of cargo's variables
/// of this test run, and no RUSTFLAGS (which would win over the image's flags).
fn cross_build(engine: &Engine, nightly: &str, target: &str, target_dir: &Path) -> PathBuf {
    let mut c = engine.command(&cross_bin());
    for (k, _) in std::env::vars() {
        if k.starts_with("CARGO_") || k.starts_with("RUST") {
            c.env_remove(k);
        }
    }
    c.args([&format!("+{nightly}"), "build", "--release"])
        .args(["--target", target, "--bin", "qing"])
        .env("CARGO_TARGET_DIR", target_dir)
        // The toolchain is cross/build.sh's, rust-src included: cross must not `rustup
        // target add` (the pinned nightly has no prebuilt aarch64 musl std to add).
        .env("CROSS_CUSTOM_TOOLCHAIN", "1")
        // The engine has no bridge (tests/docker/engine.sh): the image's build takes the
        // host's network to reach the mirrors; the build in the image takes none.
        .env("CROSS_BUILD_OPTS", "--network host")
        .env("CROSS_CONTAINER_OPTS", "--network none")
        .current_dir(repo());
    let out = common::output(c);
    assert_eq!(out.code, 0, "cross build --target {target}: {out:?}");
    target_dir.join(target).join("release/qing")
}

#[test]
fn cross_build_gives_the_bytes_of_cross_build_sh_on_every_target() {
    if common::docker::skip_without_docker()
        || common::skip_unless(
            has_cross(),
            "cross-rs 0.2.5 (cargo install --locked cross --version 0.2.5; tests/run.sh does)",
        )
    {
        return;
    }
    let nightly = nightly();
    let engine = Engine::start();
    let base = engine.script("tests/docker/debian-base.sh", &[]);
    assert_eq!(base.code, 0, "the Debian 12 base image: {base:?}");

    let target_dir = repo().join("target/cross-rs");
    let targets = common::release_targets();
    assert_eq!(targets.len(), 5, "{targets:?}");
    for target in &targets {
        let by_cross = cross_build(&engine, &nightly, target, &target_dir);
        let by_script = common::release_build(target, &[]);
        let crossed =
            std::fs::read(&by_cross).unwrap_or_else(|e| panic!("{}: {e}", by_cross.display()));
        assert!(
            crossed == std::fs::read(&by_script).unwrap(),
            "{target}: {} ({} bytes) and {} ({} bytes) differ",
            by_cross.display(),
            crossed.len(),
            by_script.display(),
            std::fs::metadata(&by_script).unwrap().len()
        );
        let size = crossed.len() as u64;
        assert!(size <= BUDGET, "{target}: {size} bytes, over {BUDGET}");
        let file = common::output({
            let mut c = Command::new("file");
            c.arg("-b").arg(&by_cross);
            c
        });
        assert!(file.stdout.contains("statically linked"), "{file:?}");
        println!("{target}: {size} bytes, the same from cross-rs and cross/build.sh");
    }

    // The image is for qing's five targets: another is refused, naming it.
    let refused = engine.docker(&[
        "build",
        "--network",
        "host",
        "--build-arg",
        "QING_TARGET=riscv64gc-unknown-linux-musl",
        "-f",
        &repo().join("cross/Dockerfile").display().to_string(),
        &repo().join("cross").display().to_string(),
    ]);
    assert_ne!(refused.code, 0, "{refused:?}");
    assert!(
        format!("{}{}", refused.stdout, refused.stderr)
            .contains("unknown TARGET 'riscv64gc-unknown-linux-musl'"),
        "{refused:?}"
    );
}
