//! The real bitbake and openembedded-core (yocto-6.0.2, wrynose), offline: the unchanged
//! archive of the shared build systems (next to Buildroot's, see buildroot.rs), unpacked
//! once under target/tmp and owned by an unprivileged user this harness makes
//! (bitbake refuses root), with a copy of qing's source tree beside it. Build
//! directories have BB_NO_NETWORK and the layers openembedded-core's meta and the
//! copy's boards/yocto/meta-qing. Only what needs no download runs: parsing (-p), the
//! environment (-e) and the dry run (-n).

use super::{output, Output};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub const VERSION: &str = "6.0.2";
/// The unprivileged user bitbake runs as.
pub const USER: &str = "qing-bitbake";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The layer bitbake reads: the one in the copy of the source tree.
pub fn layer() -> PathBuf {
    source().join("boards/yocto/meta-qing")
}

/// A copy of qing's tracked files, owned by USER, made once: the recipe builds from
/// the tree its layer is in (externalsrc), and bitbake, running as USER, must neither
/// write into this repo's .git (externalsrc keeps its tree hash there) nor hash its
/// target/ (without git it hashes every file of the tree).
pub fn source() -> &'static Path {
    static SOURCE: OnceLock<PathBuf> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let copy = tree().join("qing");
        let made = sh(&format!(
            "rm -rf '{copy}' && mkdir '{copy}' && cd '{repo}' && git ls-files -z --cached --others --exclude-standard | \
             tar -c --null -T - | tar -x -C '{copy}' && chown -R {USER} '{copy}'",
            copy = copy.display(),
            repo = repo().display()
        ));
        assert_eq!(made.code, 0, "copying the source tree: {made:?}");
        copy
    })
}

fn sh(script: &str) -> Output {
    let mut c = Command::new("sh");
    c.arg("-c").arg(script);
    output(c)
}

/// The unpacked yocto-6.0.2 directory (bitbake/ and openembedded-core/), owned by
/// USER, made once.
pub fn tree() -> &'static Path {
    static TREE: OnceLock<PathBuf> = OnceLock::new();
    TREE.get_or_init(|| {
        let made = sh(&format!(
            "id -u {USER} >/dev/null 2>&1 || useradd --system --create-home --shell /bin/sh {USER}"
        ));
        assert_eq!(made.code, 0, "making the user {USER}: {made:?}");
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let tree = base.join(format!("yocto-{VERSION}"));
        let stamp = base.join(format!("yocto-{VERSION}.unpacked"));
        if !stamp.exists() {
            let archive = super::buildroot::build_systems()
                .join(format!("yocto-{VERSION}-bitbake-oe-core.tar.xz"));
            let unpacked = sh(&format!(
                "rm -rf '{tree}' && tar -xf '{archive}' -C '{base}' && chown -R {USER} '{tree}'",
                tree = tree.display(),
                archive = archive.display(),
                base = base.display()
            ));
            assert_eq!(unpacked.code, 0, "unpacking yocto: {unpacked:?}");
            std::fs::write(&stamp, "").unwrap();
        }
        tree
    })
}

/// A build directory BUILD under the tree for MACHINE (and TCLIBC where given), with
/// `extra` lines in local.conf; made anew each time.
pub fn build_dir(name: &str, machine: &str, extra: &[&str]) -> String {
    let dir = tree().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    let made = bitbake_shell(name, "true");
    assert_eq!(made.code, 0, "oe-init-build-env {name}: {made:?}");
    let local = dir.join("conf/local.conf");
    let mut text = std::fs::read_to_string(&local).unwrap();
    text.push_str(&format!(
        "\nMACHINE = \"{machine}\"\nBB_NO_NETWORK = \"1\"\n"
    ));
    for line in extra {
        text.push_str(line);
        text.push('\n');
    }
    std::fs::write(&local, text).unwrap();
    std::fs::write(
        dir.join("conf/bblayers.conf"),
        format!(
            "BBPATH = \"${{TOPDIR}}\"\nBBFILES ?= \"\"\nBBLAYERS = \"{} {}\"\n",
            tree().join("openembedded-core/meta").display(),
            layer().display()
        ),
    )
    .unwrap();
    name.to_string()
}

/// SCRIPT in bash as USER, in the build directory BUILD after oe-init-build-env.
pub fn bitbake_shell(build: &str, script: &str) -> Output {
    let setup = format!(
        "cd '{}' && export BITBAKEDIR=\"$PWD/bitbake\" && . openembedded-core/oe-init-build-env '{build}' >/dev/null && {script}",
        tree().display()
    );
    let mut c = Command::new("runuser");
    c.args(["-u", USER, "--", "bash", "-c", &setup]);
    output(c)
}

/// `bitbake ARGS` in BUILD, which must succeed: its output.
pub fn bitbake(build: &str, args: &str) -> String {
    let out = bitbake_shell(build, &format!("bitbake {args}"));
    assert_eq!(out.code, 0, "bitbake {args} in {build}: {out:?}");
    out.stdout
}

/// The value of VAR in `bitbake -e` output (the line `VAR="..."`, or `export VAR="..."`).
pub fn var(env: &str, name: &str) -> Option<String> {
    env.lines().find_map(|line| {
        let line = line.strip_prefix("export ").unwrap_or(line);
        line.strip_prefix(name)?
            .strip_prefix("=\"")?
            .strip_suffix('"')
            .map(String::from)
    })
}
