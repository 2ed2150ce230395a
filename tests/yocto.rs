//! qing's Yocto layer (boards/yocto/meta-qing) against the real bitbake and
//! openembedded-core 6.0.2, offline, as an unprivileged user: the layer parses; `bitbake
//! -e qing` shows the recipe building a static qing with the features PACKAGECONFIG
//! chooses, its init integration and installed files; `bitbake -n qing` resolves the
//! whole task graph for qemuarm64 (glibc) and for qemumips with musl; the kernel
//! fragments reach linux-yocto only where DISTRO_FEATURES has "qing"; the crates file
//! is what Cargo.lock makes; and oelint-adv finds no error.
//!
//! Nothing is fetched or compiled (README, "Yocto").

mod common;
use common::yocto::{self, bitbake, build_dir, var};
use std::path::Path;
use std::process::Command;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// What `bitbake -e qing` must show in every configuration.
fn assert_recipe(env: &str, features: &[&str], rust_target: &str) {
    let get = |name: &str| var(env, name).unwrap_or_else(|| panic!("no {name} in bitbake -e qing"));
    let root = yocto::source().canonicalize().unwrap();
    assert_eq!(
        Path::new(&get("EXTERNALSRC")),
        root,
        "built from the tree the layer is in"
    );
    assert_eq!(get("LICENSE"), "MIT | Apache-2.0");
    let flags = get("CARGO_BUILD_FLAGS");
    assert!(
        flags.contains(&format!("--target {rust_target} ")),
        "{flags}"
    );
    assert!(flags.contains("--no-default-features"), "{flags}");
    for feature in ["squashfs", "named", "bridge", "exec", "tty", "debug"] {
        assert_eq!(
            flags.contains(&format!("--features {feature}")),
            features.contains(&feature),
            "{feature}: {flags}"
        );
    }
    assert!(
        get("RUSTFLAGS").ends_with(" -C target-feature=+crt-static"),
        "a static binary"
    );
    assert_eq!(
        get("CARGO_PROFILE_RELEASE_STRIP"),
        "false",
        "OE strips, not cargo"
    );
    assert_eq!(get("INITSCRIPT_NAME"), "qing");
    assert_eq!(get("INITSCRIPT_PARAMS"), "defaults 95 5");
    assert_eq!(get("SYSTEMD_SERVICE:qing"), "qing@.service");
    assert_eq!(get("SYSTEMD_AUTO_ENABLE:qing"), "disable");
    let install = env
        .split("\ndo_install() {\n")
        .nth(1)
        .and_then(|rest| rest.split("\n}\n").next())
        .expect("do_install in bitbake -e qing");
    for installed in [
        "boards/sysvinit/qing.default",
        "/etc/default/qing",
        "/etc/init.d/qing",
        "boards/systemd/qing@.service",
        "/usr/lib/systemd/system/qing@.service",
    ] {
        assert!(install.contains(installed), "do_install has no {installed}");
    }
}

/// The `file://qing-*.scc` entries of linux-yocto's SRC_URI.
fn kernel_fragments(build: &str) -> Vec<String> {
    let env = bitbake(build, "-e linux-yocto");
    var(&env, "SRC_URI")
        .expect("linux-yocto's SRC_URI")
        .split_whitespace()
        .filter(|u| u.starts_with("file://qing-"))
        .map(String::from)
        .collect()
}

#[test]
fn on_qemuarm64_the_layer_parses_and_the_recipe_builds_qing_with_every_feature() {
    let build = build_dir("build-qing-qemuarm64", "qemuarm64", &[]);
    let parsed = bitbake(&build, "-p");
    assert!(parsed.contains(" 0 errors."), "{parsed}");
    assert_recipe(
        &bitbake(&build, "-e qing"),
        &["squashfs", "named", "bridge", "exec", "tty", "debug"],
        "aarch64-oe-linux-gnu",
    );
    let dry = bitbake(&build, "-n qing");
    assert!(dry.contains("Tasks Summary"), "{dry}");
    // No "qing" distro feature: linux-yocto is as it was.
    assert_eq!(kernel_fragments(&build), Vec::<String>::new());
}

#[test]
fn on_qemumips_with_musl_packageconfig_chooses_the_features_and_the_kernel_gets_the_fragments() {
    let build = build_dir(
        "build-qing-qemumips-musl",
        "qemumips",
        &[
            "TCLIBC = \"musl\"",
            "PACKAGECONFIG:pn-qing = \"squashfs named\"",
            "DISTRO_FEATURES:append = \" qing\"",
        ],
    );
    assert_recipe(
        &bitbake(&build, "-e qing"),
        &["squashfs", "named"],
        "mips-oe-linux-musl",
    );
    let dry = bitbake(&build, "-n qing");
    assert!(dry.contains("Tasks Summary"), "{dry}");
    assert_eq!(
        kernel_fragments(&build),
        [
            "file://qing-core.scc",
            "file://qing-squashfs.scc",
            "file://qing-bridge.scc"
        ],
        "the fragments of every build option that uses kernel options"
    );
    // Each .scc names its generated fragment.
    for feature in ["core", "squashfs", "bridge"] {
        let scc = std::fs::read_to_string(repo().join(format!(
            "boards/yocto/meta-qing/recipes-kernel/linux/linux-yocto/qing-{feature}.scc"
        )))
        .unwrap();
        assert!(
            scc.contains(&format!("kconf non-hardware qing-{feature}.cfg")),
            "{scc}"
        );
    }
}

#[test]
fn the_crates_file_is_what_cargo_lock_makes() {
    let mut c = Command::new(repo().join("boards/yocto/update-crates.sh"));
    c.arg("--check");
    let out = common::output(c);
    assert_eq!(out.code, 0, "{out:?}");
    let inc =
        std::fs::read_to_string(yocto::layer().join("recipes-containers/qing/qing-crates.inc"))
            .unwrap();
    let lock = std::fs::read_to_string(repo().join("Cargo.lock")).unwrap();
    let crates = lock.matches("source = \"registry+").count();
    assert!(crates > 10, "{crates} crates in Cargo.lock");
    assert_eq!(inc.matches("crate://crates.io/").count(), crates, "{inc}");
    assert_eq!(inc.matches(".sha256sum] = \"").count(), crates, "{inc}");
}

#[test]
fn oelint_adv_finds_no_error_in_the_layer() {
    let files = [
        "recipes-containers/qing/qing_0.1.0.bb",
        "recipes-containers/qing/qing-crates.inc",
        "recipes-kernel/linux/linux-yocto_%.bbappend",
        "recipes-kernel/linux/linux-yocto-qing.inc",
    ];
    let mut c = Command::new("python3");
    c.args(["-m", "oelint_adv", "--release", "wrynose", "--quiet"])
        // Offline: this rule opens HOMEPAGE over the network.
        .args(["--suppress", "oelint.vars.homepageping"])
        // qing has no public home page yet (the recipe says so).
        .args(["--suppress", "oelint.var.mandatoryvar.HOMEPAGE"])
        // The crates file is in the layout bitbake's own update_crates writes.
        .args(["--suppress", "oelint.vars.inconspaces"])
        .args(files.map(|f| repo().join("boards/yocto/meta-qing").join(f)));
    let out = common::output(c);
    let report = format!("{}{}", out.stdout, out.stderr);
    assert!(
        !report.contains(":error:") && !report.contains("Traceback"),
        "{report}"
    );
    // It really read the recipe: an info-level finding names it.
    assert!(report.contains("qing_0.1.0.bb"), "{report}");
    println!("{report}");
}
