//! qing's Buildroot external tree (boards/buildroot) against the real Buildroot
//! 2026.02.3, offline: check-package finds nothing; qing and its options survive
//! olddefconfig on aarch64, ARMv7 and mipsel boards, with the Rust target, cargo
//! features, kernel fixups and init script each configuration asks for; the kernel
//! options agree between `qing check --kconfig`, Buildroot's fixups and Yocto's
//! fragments, all made from src/kernel.rs; the package's build step, run by hand in
//! a copy of the tree, gives the binary cross/build.sh gives; and qing's defconfigs for
//! the emulated boards install the python template where qing finds it, with a config
//! qing starts at boot.
//!
//! Nothing here downloads: kconfig, check-package and make's evaluation only (what
//! Buildroot would fetch and compile cannot run offline; README, "Buildroot").

mod common;
use common::buildroot::{self, configure, enabled_options, printvars, show_info};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("qing-test-br-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The boards: Buildroot's own defconfig for each, and the Rust target qing's package
/// must pick for it.
const BOARDS: [(&str, &str); 3] = [
    ("qemu_aarch64_virt_defconfig", "aarch64-unknown-linux-musl"),
    (
        "qemu_arm_vexpress_defconfig",
        "armv7-unknown-linux-musleabihf",
    ),
    (
        "qemu_mips32r2el_malta_defconfig",
        "mipsel-unknown-linux-musl",
    ),
];

/// `qing check --kconfig` of the qing under test: the options, in order.
fn qing_kconfig() -> Vec<String> {
    let mut c = Command::new(common::qing_bin());
    c.args(["check", "--kconfig"]);
    let out = common::output(c);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.starts_with("# The kernel options qing "),
        "{out:?}"
    );
    out.stdout
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            l.strip_suffix("=y")
                .unwrap_or_else(|| panic!("not CONFIG_X=y: {l:?}"))
                .to_string()
        })
        .collect()
}

/// The options of boards/yocto/.../qing-FEATURE.cfg.
fn yocto_fragment(feature: &str) -> Vec<String> {
    let path = repo().join(format!(
        "boards/yocto/meta-qing/recipes-kernel/linux/linux-yocto/qing-{feature}.cfg"
    ));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.strip_suffix("=y").unwrap_or(l).to_string())
        .collect()
}

#[test]
fn the_external_tree_passes_buildroots_check_package() {
    let files: Vec<String> = walk(&buildroot::external_tree())
        .iter()
        .map(|p| {
            p.strip_prefix(buildroot::external_tree())
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    assert!(
        files.iter().any(|f| f == "package/qing/qing.mk"),
        "{files:?}"
    );
    let clean = check_package(&buildroot::external_tree(), &files);
    assert!(clean.ends_with("\n0 warnings generated"), "{clean}");
    println!("{clean}");

    // The check is real: the same tree with a recipe line indented by spaces, not a
    // tab, gets a warning.
    let copy = scratch("check-package");
    let copied = common::output({
        let mut c = Command::new("cp");
        c.arg("-R").arg(buildroot::external_tree()).arg(&copy);
        c
    });
    assert_eq!(copied.code, 0, "{copied:?}");
    let mk = copy.join("package/qing/qing.mk");
    let text = std::fs::read_to_string(&mk).unwrap();
    std::fs::write(&mk, text.replacen("\tcd $(@D)", "        cd $(@D)", 1)).unwrap();
    let dirty = check_package(&copy, &files);
    assert!(
        dirty.contains("qing.mk") && !dirty.ends_with("\n0 warnings generated"),
        "{dirty}"
    );
    let _ = std::fs::remove_dir_all(&copy);
}

/// Buildroot's utils/check-package -b on FILES of the external tree DIR: its report.
fn check_package(dir: &Path, files: &[String]) -> String {
    // Debian's python3, which has python3-magic and flake8 (tests/run.sh installs them).
    let mut c = Command::new("/usr/bin/python3");
    c.arg(buildroot::tree().join("utils/check-package"))
        .arg("-b")
        .args(files)
        .current_dir(dir);
    let out = common::output(c);
    let report = format!("{}{}", out.stdout, out.stderr);
    assert!(report.contains(" lines processed"), "{out:?}");
    report.trim_end().to_string()
}

/// Every file under `dir`, sorted.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files.sort();
    files
}

#[test]
fn qing_and_its_options_survive_olddefconfig_on_aarch64_armv7_and_mipsel() {
    let version = env!("CARGO_PKG_VERSION");
    let every_option = qing_kconfig();
    let bridge_options: BTreeSet<String> = yocto_fragment("bridge").into_iter().collect();
    for (defconfig, target) in BOARDS {
        let out = scratch(defconfig);
        // The bridge left out, to see a sub-option go through.
        let config = configure(
            &out,
            defconfig,
            &["BR2_PACKAGE_QING=y", "# BR2_PACKAGE_QING_BRIDGE is not set"],
        );
        for want in [
            "BR2_PACKAGE_QING=y",
            "BR2_PACKAGE_QING_SQUASHFS=y",
            "BR2_PACKAGE_QING_NAMED=y",
            "# BR2_PACKAGE_QING_BRIDGE is not set",
            "BR2_PACKAGE_QING_EXEC=y",
        ] {
            assert!(
                config.iter().any(|l| l == want),
                "{defconfig}: no {want:?} after olddefconfig"
            );
        }

        let info = show_info(&out, "qing");
        assert!(
            info.contains(&format!("\"version\": \"{version}\"")),
            "{info}"
        );
        // The build's tools are qing's own (cross/build.sh), not host-rustc.
        assert!(info.contains("\"dependencies\": [ \"host-skeleton\", \"host-tar\", \"skeleton\", \"toolchain\" ]"), "{info}");

        let vars = printvars(
            &out,
            &[
                "QING_RUST_TARGET",
                "QING_CARGO_FLAGS",
                "QING_BUILD_COMMAND",
                "QING_INSTALL_INIT_SYSV",
                "QING_INSTALL_INIT_SYSTEMD",
                "QING_INSTALL_TARGET_CMDS",
                "QING_LINUX_CONFIG_FIXUPS",
                "PACKAGES_LINUX_CONFIG_FIXUPS",
            ],
        );
        assert_eq!(vars["QING_RUST_TARGET"], target, "{defconfig}");
        let without_bridge: Vec<String> = common::cargo_features()
            .into_iter()
            .filter(|f| f != "bridge")
            .collect();
        assert_eq!(
            vars["QING_CARGO_FLAGS"].trim(),
            format!(
                "--no-default-features --features {}",
                without_bridge.join(",")
            ),
            "{defconfig}"
        );
        assert!(
            vars["QING_BUILD_COMMAND"]
                .contains(&format!("./cross/build.sh {target} --no-default-features")),
            "{vars:?}"
        );
        assert!(
            vars["QING_INSTALL_INIT_SYSV"].contains("boards/sysvinit/qing")
                && vars["QING_INSTALL_INIT_SYSV"].contains("/target/etc/init.d/S95qing"),
            "{vars:?}"
        );
        assert!(
            vars["QING_INSTALL_INIT_SYSTEMD"]
                .contains("/target/usr/lib/systemd/system/qing@.service"),
            "{vars:?}"
        );
        assert!(
            vars["QING_INSTALL_TARGET_CMDS"].contains("/target/usr/bin/qing")
                && vars["QING_INSTALL_TARGET_CMDS"].contains("/target/etc/default/qing"),
            "{vars:?}"
        );

        // The fixups: every option of qing check --kconfig but the bridge's, and they
        // are among what linux.mk applies.
        let fixups = enabled_options(&vars["QING_LINUX_CONFIG_FIXUPS"]);
        let want: Vec<String> = every_option
            .iter()
            .filter(|o| !bridge_options.contains(*o))
            .cloned()
            .collect();
        assert_eq!(fixups, want, "{defconfig}: the kernel fixups");
        let applied: BTreeSet<String> = enabled_options(&vars["PACKAGES_LINUX_CONFIG_FIXUPS"])
            .into_iter()
            .collect();
        assert!(
            want.iter().all(|o| applied.contains(o)),
            "{defconfig}: linux.mk would not apply all of {want:?}: {applied:?}"
        );
        let _ = std::fs::remove_dir_all(&out);
    }
}

#[test]
fn a_build_without_options_gets_the_minimal_build_and_only_the_core_kernel_options() {
    let out = scratch("minimal");
    let mut extra = vec!["BR2_PACKAGE_QING=y".to_string()];
    extra.extend(
        common::cargo_features()
            .iter()
            .map(|f| format!("# BR2_PACKAGE_QING_{} is not set", f.to_uppercase())),
    );
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    configure(&out, BOARDS[0].0, &extra);
    let vars = printvars(&out, &["QING_CARGO_FLAGS", "QING_LINUX_CONFIG_FIXUPS"]);
    assert_eq!(vars["QING_CARGO_FLAGS"].trim(), "--no-default-features");
    assert_eq!(
        enabled_options(&vars["QING_LINUX_CONFIG_FIXUPS"]),
        yocto_fragment("core")
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_board_qing_does_not_build_for_cannot_select_it() {
    // RISC-V: no Rust target of qing's. The package is dropped, as Buildroot drops
    // what a board cannot have, and the comment says why.
    let out = scratch("riscv");
    let config = configure(&out, "qemu_riscv64_virt_defconfig", &["BR2_PACKAGE_QING=y"]);
    assert!(
        !config.iter().any(|l| l == "BR2_PACKAGE_QING=y"),
        "qing selected on riscv64"
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn the_kernel_options_agree_between_qing_check_buildroot_and_yocto() {
    // The generated files are what src/kernel.rs makes.
    let mut c = Command::new(repo().join("boards/kernel/generate.sh"));
    c.arg("--check");
    let generated = common::output(c);
    assert_eq!(generated.code, 0, "{generated:?}");

    // qing check --kconfig (every feature) is the Yocto fragments together...
    let qing = qing_kconfig();
    let yocto: Vec<String> = ["core", "squashfs", "bridge"]
        .iter()
        .flat_map(|f| yocto_fragment(f))
        .collect();
    assert_eq!(qing, yocto, "qing check --kconfig and the Yocto fragments");
    assert!(qing.iter().any(|o| o == "CONFIG_PID_NS"), "{qing:?}");

    // ...and Buildroot's fixups with every sub-option.
    let out = scratch("agree");
    configure(&out, BOARDS[0].0, &["BR2_PACKAGE_QING=y"]);
    let vars = printvars(&out, &["QING_LINUX_CONFIG_FIXUPS"]);
    assert_eq!(
        enabled_options(&vars["QING_LINUX_CONFIG_FIXUPS"]),
        qing,
        "Buildroot's fixups and qing check --kconfig"
    );
    let _ = std::fs::remove_dir_all(&out);

    // And no other source file of qing names a kernel option of its own.
    for file in walk(&repo().join("src")) {
        if file.ends_with("kernel.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (i, _) in text.match_indices("CONFIG_") {
            let before = text[..i].chars().next_back();
            let name: String = text[i..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            let word_start = !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
            assert!(
                !word_start || name == "CONFIG_DIR",
                "{} names {name}: take it from src/kernel.rs",
                file.display()
            );
        }
    }
}

#[test]
fn the_package_build_step_run_by_hand_gives_the_release_binary_of_cross_build() {
    let out = scratch("build-step");
    let (defconfig, target) = BOARDS[0];
    configure(&out, defconfig, &["BR2_PACKAGE_QING=y"]);
    let vars = printvars(&out, &["QING_BUILD_COMMAND", "QING_CARGO_FLAGS"]);
    let command = vars["QING_BUILD_COMMAND"].clone();
    let _ = std::fs::remove_dir_all(&out);

    // A copy of the tree as Buildroot's local site method makes it: without the build
    // output and caches (QING_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS) or .git.
    let copy = scratch("tree");
    let copied = common::output({
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg(r#"mkdir -p "$2" && cd "$1" && tar -c --exclude=./target --exclude=./.cache --exclude=./.git . | tar -x -C "$2""#)
            .arg("sh")
            .arg(repo())
            .arg(&copy);
        c
    });
    assert_eq!(copied.code, 0, "{copied:?}");
    let by_hand = common::output({
        let mut c = Command::new("sh");
        c.arg("-c").arg(&command).current_dir(&copy);
        c
    });
    assert_eq!(by_hand.code, 0, "{command}: {by_hand:?}");
    let built = copy.join(format!("target/{target}/release/qing"));
    assert_eq!(
        by_hand.stdout.lines().last(),
        Some(built.display().to_string().as_str()),
        "{by_hand:?}"
    );

    // With the package's options, every one here: cargo also sets feature "default"
    // when asked for no flags, which changes the crate's hash and so a few bytes of
    // the code's layout.
    let flags: Vec<&str> = vars["QING_CARGO_FLAGS"].split_whitespace().collect();
    let release_bin = common::release_build(target, &flags);
    assert!(
        std::fs::read(&built).unwrap() == std::fs::read(&release_bin).unwrap(),
        "{} and {} differ",
        built.display(),
        release_bin.display()
    );
    println!(
        "{target}: {} bytes, the same from Buildroot's build step and cross/build.sh",
        std::fs::metadata(&built).unwrap().len()
    );
    let _ = std::fs::remove_dir_all(&copy);
}

/// qing's own defconfigs for the emulated boards, and what their templates become.
const QING_BOARDS: [(&str, &str); 2] = [
    ("qing_qemu_aarch64_virt_defconfig", "arm64"),
    ("qing_qemu_mips32r2el_malta_defconfig", "mipsel"),
];

#[test]
fn the_qing_defconfigs_install_the_python_template_and_a_container_started_at_boot() {
    for (defconfig, arch) in QING_BOARDS {
        let out = scratch(defconfig);
        let config = configure(&out, defconfig, &[]);
        for want in [
            "BR2_PACKAGE_QING=y",
            "BR2_PACKAGE_QING_SQUASHFS=y",
            "BR2_PACKAGE_QING_TEMPLATES=y",
            "BR2_PACKAGE_QING_TEMPLATES_PYTHON=y",
            "BR2_PACKAGE_QING_TEMPLATES_AUTOSTART=\"python\"",
            "BR2_LINUX_KERNEL=y",
            "BR2_TARGET_ROOTFS_EXT2=y",
        ] {
            assert!(
                config.iter().any(|l| l == want),
                "{defconfig}: no {want:?} after olddefconfig"
            );
        }
        let info = show_info(&out, "qing-templates");
        assert!(info.contains("\"dependencies\": [ \"host-skeleton\", \"host-tar\", \"qing\", \"skeleton\", \"toolchain\" ]"), "{info}");

        let vars = printvars(
            &out,
            &[
                "QING_TEMPLATES_ARCH",
                "QING_TEMPLATES_LIST",
                "QING_TEMPLATES_BUILD_CMDS",
                "QING_TEMPLATES_INSTALL_TARGET_CMDS",
                "QING_TEMPLATES_INSTALL_AUTOSTART",
                "TARGET_DIR",
            ],
        );
        assert_eq!(vars["QING_TEMPLATES_ARCH"], arch, "{defconfig}");
        assert_eq!(vars["QING_TEMPLATES_LIST"].trim(), "busybox python");
        let build = &vars["QING_TEMPLATES_BUILD_CMDS"];
        for t in ["busybox", "python"] {
            assert!(
                build.contains(&format!("./rootfs-templates/build.sh {t} {arch} ./out")),
                "{build}"
            );
            // Where `qing import` puts them, so that configs find them by name.
            let install = &vars["QING_TEMPLATES_INSTALL_TARGET_CMDS"];
            for file in [format!("{t}.squashfs"), format!("{t}.json")] {
                assert!(
                    install.contains(&format!(
                        "./out/{file} {}/var/lib/qing/templates/{file}",
                        vars["TARGET_DIR"]
                    )),
                    "{install}"
                );
            }
        }

        // The boot-time config, written for real, is one qing reads as autostart.
        let target = Path::new(&vars["TARGET_DIR"]);
        let mut c = Command::new("sh");
        c.args(["-e", "-c", &vars["QING_TEMPLATES_INSTALL_AUTOSTART"]]);
        let made = common::output(c);
        assert_eq!(made.code, 0, "{made:?}");
        let written = std::fs::read_to_string(target.join("etc/qing/python.json")).unwrap();
        assert_eq!(
            written.trim(),
            r#"{ "rootfs": "python", "env": ["HOST=0.0.0.0"], "net": "host", "autostart": true }"#
        );
        let state = out.join("qing-state");
        let mut c = Command::new(common::qing_bin());
        c.arg("--root")
            .arg(&state)
            .arg("--config-dir")
            .arg(target.join("etc/qing"));
        c.arg("list");
        let listed = common::output(c);
        assert_eq!(listed.code, 0, "{listed:?}");
        assert!(
            listed
                .stdout
                .lines()
                .any(|l| l.starts_with("python ") && l.ends_with(" python")),
            "{listed:?}"
        );
        let _ = std::fs::remove_dir_all(&out);
    }
}

#[test]
fn an_autostart_template_that_is_not_chosen_is_refused_with_the_option_named() {
    let out = scratch("autostart-unchosen");
    configure(
        &out,
        "qing_qemu_aarch64_virt_defconfig",
        &["BR2_PACKAGE_QING_TEMPLATES_AUTOSTART=\"java\""],
    );
    let o = format!("O={}", out.display());
    let made = buildroot::make(&[&o, "printvars", "VARS=QING_TEMPLATES_LIST"]);
    assert_ne!(made.code, 0, "{made:?}");
    assert!(
        made.stderr.contains(
            "BR2_PACKAGE_QING_TEMPLATES_AUTOSTART is \"java\", which is not a chosen template"
        ),
        "{made:?}"
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn buildroots_own_rust_builds_qing_with_qings_release_profile_where_it_has_a_target() {
    for (defconfig, rust_target, arm) in [
        (
            "qemu_aarch64_virt_defconfig",
            "aarch64-unknown-linux-gnu",
            false,
        ),
        (
            "qemu_arm_vexpress_defconfig",
            "armv7-unknown-linux-gnueabihf",
            true,
        ),
    ] {
        let out = scratch(&format!("br-rust-{defconfig}"));
        let config = configure(
            &out,
            defconfig,
            &["BR2_PACKAGE_QING=y", "BR2_PACKAGE_QING_BUILDROOT_RUST=y"],
        );
        for want in [
            "BR2_PACKAGE_QING_BUILDROOT_RUST=y",
            "# BR2_PACKAGE_QING_OWN_TOOLCHAIN is not set",
            "BR2_PACKAGE_HOST_RUSTC=y",
        ] {
            assert!(config.iter().any(|l| l == want), "{defconfig}: no {want:?}");
        }
        let info = show_info(&out, "qing");
        assert!(info.contains("\"host-rustc\""), "{info}");
        let vars = printvars(&out, &["QING_BUILD_CMDS", "QING_INSTALL_TARGET_CMDS"]);
        let build = &vars["QING_BUILD_CMDS"];
        let every = common::cargo_features().join(",");
        assert!(
            build.contains(&format!("cargo build --offline --release --manifest-path Cargo.toml --locked --no-default-features --features {every}")),
            "{build}"
        );
        assert!(
            build.contains(&format!("CARGO_BUILD_TARGET=\"{rust_target}\"")),
            "{build}"
        );
        // qing's profile comes after Buildroot's in the same command: the shell keeps
        // the last assignment.
        for (buildroots, qings) in [
            (
                "CARGO_PROFILE_RELEASE_OPT_LEVEL=\"2\"",
                "CARGO_PROFILE_RELEASE_OPT_LEVEL=\"z\"",
            ),
            (
                "CARGO_PROFILE_RELEASE_CODEGEN_UNITS=\"16\"",
                "CARGO_PROFILE_RELEASE_CODEGEN_UNITS=\"1\"",
            ),
            (
                "CARGO_PROFILE_RELEASE_LTO=\"false\"",
                "CARGO_PROFILE_RELEASE_LTO=\"true\"",
            ),
        ] {
            let (b, q) = (build.rfind(buildroots), build.rfind(qings));
            assert!(
                matches!((b, q), (Some(b), Some(q)) if q > b),
                "{qings} does not follow {buildroots}: {build}"
            );
        }
        let flags = format!(
            "_RUSTFLAGS=\"-Ctarget-feature=+crt-static{}\"",
            if arm {
                " -Clink-arg=-Wl,--allow-multiple-definition"
            } else {
                ""
            }
        );
        assert!(build.contains(&flags), "{flags} not in {build}");
        assert!(
            vars["QING_INSTALL_TARGET_CMDS"]
                .contains(&format!("./target/{rust_target}/release/qing ")),
            "{vars:?}"
        );
        let _ = std::fs::remove_dir_all(&out);
    }
    // MIPS: Buildroot's Rust has no target; qing's own toolchain stays.
    let out = scratch("br-rust-mips");
    let config = configure(
        &out,
        "qemu_mips32r2el_malta_defconfig",
        &["BR2_PACKAGE_QING=y", "BR2_PACKAGE_QING_BUILDROOT_RUST=y"],
    );
    assert!(config
        .iter()
        .any(|l| l == "BR2_PACKAGE_QING_OWN_TOOLCHAIN=y"));
    assert!(!config
        .iter()
        .any(|l| l == "BR2_PACKAGE_QING_BUILDROOT_RUST=y"));
    let _ = std::fs::remove_dir_all(&out);
}
