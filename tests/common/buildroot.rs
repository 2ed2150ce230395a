//! The real Buildroot, offline: the unchanged 2026.02.3 tree of the shared build systems
//! (build_systems() says where they are looked for), unpacked once
//! under target/tmp, configured with qing's external tree (boards/buildroot) in output
//! directories of the tests' own. Only what needs no download runs: kconfig
//! (defconfig, olddefconfig), check-package, and make's evaluation (show-info,
//! printvars).

use super::{output, Output};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub const VERSION: &str = "2026.02.3";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn external_tree() -> PathBuf {
    repo().join("boards/buildroot")
}

/// The directory of the shared build-system archives: QING_BUILD_SYSTEMS, else
/// ../shared/build-systems beside the repo, else /work/shared/build-systems (where a
/// clone elsewhere, as CI's, finds them on this workplace's machines).
pub fn build_systems() -> PathBuf {
    let beside = repo().join("../shared/build-systems");
    let dir = std::env::var_os("QING_BUILD_SYSTEMS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            if beside.is_dir() {
                beside
            } else {
                PathBuf::from("/work/shared/build-systems")
            }
        });
    assert!(
        dir.join(format!("buildroot-{VERSION}.tar.xz")).is_file(),
        "no buildroot-{VERSION}.tar.xz in {}: set QING_BUILD_SYSTEMS to the directory of the shared build-system archives",
        dir.display()
    );
    dir
}

/// The unpacked Buildroot tree, made once (a stamp file says it is complete).
pub fn tree() -> &'static Path {
    static TREE: OnceLock<PathBuf> = OnceLock::new();
    TREE.get_or_init(|| {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let tree = base.join(format!("buildroot-{VERSION}"));
        let stamp = base.join(format!("buildroot-{VERSION}.unpacked"));
        if !stamp.exists() {
            let _ = std::fs::remove_dir_all(&tree);
            let mut c = Command::new("tar");
            c.arg("-xf")
                .arg(build_systems().join(format!("buildroot-{VERSION}.tar.xz")))
                .arg("-C")
                .arg(base);
            let out = output(c);
            assert_eq!(out.code, 0, "unpacking Buildroot: {out:?}");
            std::fs::write(&stamp, "").unwrap();
        }
        tree
    })
}

/// `make -C TREE ARGS...`, quiet.
pub fn make(args: &[&str]) -> Output {
    let mut c = Command::new("make");
    c.arg("-s").arg("-C").arg(tree()).args(args);
    output(c)
}

/// An output directory configured from Buildroot's DEFCONFIG with qing's external tree
/// and the .config lines `extra` (BR2_PACKAGE_QING=y and its options), then
/// `olddefconfig`, as a user's `make menuconfig` would leave it. The .config's lines.
pub fn configure(out: &Path, defconfig: &str, extra: &[&str]) -> Vec<String> {
    let _ = std::fs::remove_dir_all(out);
    let o = format!("O={}", out.display());
    let external = format!("BR2_EXTERNAL={}", external_tree().display());
    let made = make(&[&external, &o, defconfig]);
    assert_eq!(made.code, 0, "make {defconfig}: {made:?}");
    let config = out.join(".config");
    let mut text = std::fs::read_to_string(&config).unwrap();
    for line in extra {
        text.push_str(line);
        text.push('\n');
    }
    std::fs::write(&config, text).unwrap();
    let old = make(&[&o, "olddefconfig"]);
    assert_eq!(old.code, 0, "make olddefconfig after {defconfig}: {old:?}");
    std::fs::read_to_string(&config)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

/// `make printvars VARS=...` in a configured output directory: each variable's
/// expanded value (multi-line ones joined by newlines).
pub fn printvars(out: &Path, vars: &[&str]) -> BTreeMap<String, String> {
    let o = format!("O={}", out.display());
    let list = format!("VARS={}", vars.join(" "));
    let printed = make(&[&o, "printvars", &list]);
    assert_eq!(printed.code, 0, "make printvars: {printed:?}");
    let mut values = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in printed.stdout.lines() {
        match line.split_once('=') {
            Some((name, value)) if vars.contains(&name) => {
                values.insert(name.to_string(), value.to_string());
                current = Some(name.to_string());
            }
            _ => {
                if let Some(value) = current.as_ref().and_then(|n| values.get_mut(n)) {
                    value.push('\n');
                    value.push_str(line);
                }
            }
        }
    }
    values
}

/// `make PKG-show-info` in a configured output directory, as text (JSON).
pub fn show_info(out: &Path, package: &str) -> String {
    let o = format!("O={}", out.display());
    let shown = make(&[&o, &format!("{package}-show-info")]);
    assert_eq!(shown.code, 0, "make {package}-show-info: {shown:?}");
    shown.stdout
}

/// The kernel options a fixup list enables (`KCONFIG_ENABLE_OPT` expands to a grep for
/// `^CONFIG_NAME=[my]` before it appends the line), in order.
pub fn enabled_options(fixups: &str) -> Vec<String> {
    fixups
        .split("grep -q '^")
        .skip(1)
        .filter_map(|rest| rest.split_once("=[my]'").map(|(name, _)| name.to_string()))
        .collect()
}
