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
    for feature in common::cargo_features() {
        assert_eq!(
            flags.contains(&format!("--features {feature}")),
            features.contains(&feature.as_str()),
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
    let every = common::cargo_features();
    let every: Vec<&str> = every.iter().map(String::as_str).collect();
    assert_recipe(&bitbake(&build, "-e qing"), &every, "aarch64-oe-linux-gnu");
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
    // Every recipe, append, include and class of the layer.
    fn bitbake_files(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                bitbake_files(&path, found);
            } else if path.extension().is_some_and(|x| {
                ["bb", "bbappend", "inc", "bbclass"].contains(&x.to_str().unwrap_or(""))
            }) {
                found.push(path);
            }
        }
    }
    let mut files = Vec::new();
    bitbake_files(&repo().join("boards/yocto/meta-qing"), &mut files);
    files.sort();
    assert!(files.len() >= 7, "{files:?}");
    let mut c = Command::new("python3");
    c.args(["-m", "oelint_adv", "--release", "wrynose", "--quiet"])
        // Offline: this rule opens HOMEPAGE over the network.
        .args(["--suppress", "oelint.vars.homepageping"])
        // qing has no public home page yet (the recipe says so).
        .args(["--suppress", "oelint.var.mandatoryvar.HOMEPAGE"])
        // The crates file is in the layout bitbake's own update_crates writes.
        .args(["--suppress", "oelint.vars.inconspaces"])
        .args(&files);
    let out = common::output(c);
    let report = format!("{}{}", out.stdout, out.stderr);
    assert!(
        !report.contains(":error:") && !report.contains("Traceback"),
        "{report}"
    );
    // It really read the recipes: info-level findings name them.
    for recipe in ["qing_0.1.0.bb", "qing-template-python.bb"] {
        assert!(report.contains(recipe), "{recipe} not read: {report}");
    }
    println!("{report}");
}

/// The body of a python function in `bitbake -e` output, as a Python function of `d`
/// (bitbake's datastore) that can run outside bitbake.
fn python_function(env: &str, name: &str) -> String {
    let body = env
        .split(&format!("\npython {name} () {{\n"))
        .nth(1)
        .and_then(|rest| rest.split("\n}\n").next())
        .unwrap_or_else(|| panic!("no python {name} in bitbake -e"));
    format!("def {name}(d):\n{body}\n")
}

/// Runs FUNCTION (from `python_function`) with a datastore holding VARS and a `bb`
/// whose fatal() exits 1 with its message, as bitbake's does.
fn run_python_function(function: &str, name: &str, vars: &[(&str, &str)]) -> common::Output {
    let values: Vec<String> = vars.iter().map(|(k, v)| format!("{k:?}: {v:?}")).collect();
    let script = format!(
        "import sys\n\
         class bb:\n    @staticmethod\n    def fatal(msg):\n        print(msg, file=sys.stderr)\n        sys.exit(1)\n\
         class Data:\n    values = {{{}}}\n    def getVar(self, name):\n        return self.values.get(name)\n\
         {function}\n{name}(Data())\n",
        values.join(", ")
    );
    let mut c = Command::new("python3");
    c.arg("-c").arg(script);
    common::output(c)
}

#[test]
fn the_python_template_image_is_made_from_the_distros_python_and_its_manifest_is_one_qing_imports()
{
    if common::skip_without("squashfs") {
        return;
    }
    let build = build_dir("build-qing-template", "qemuarm64", &[]);
    let env = bitbake(&build, "-e qing-template-python");
    let get = |name: &str| var(&env, name).unwrap_or_else(|| panic!("no {name}"));
    assert_eq!(get("QING_TEMPLATE_NAME"), "python");
    assert_eq!(
        get("QING_TEMPLATE_ARCH"),
        "arm64",
        "Debian's name, as qing's"
    );
    assert_eq!(get("IMAGE_FSTYPES"), "squashfs-xz");
    assert_eq!(get("KERNEL_DEPLOY_DEPEND"), "", "no kernel");
    let install: Vec<String> = get("IMAGE_INSTALL")
        .split_whitespace()
        .map(String::from)
        .collect();
    for package in [
        "python3-core",
        "python3-json",
        "python3-netserver",
        "qing-sample-python",
    ] {
        assert!(install.iter().any(|p| p == package), "{install:?}");
    }
    assert!(get("IMAGE_POSTPROCESS_COMMAND").contains("qing_template_manifest"));
    // The whole task graph resolves: the distro's own python3, and no kernel image
    // deployed for it (KERNEL_DEPLOY_DEPEND). The kernel's packaging is in the graph,
    // as in every image's: do_rootfs waits for every package of every recipe it uses
    // (python3's ptest pulls systemd, whose iptables recommends kernel modules), but
    // the image installs only IMAGE_INSTALL's closure.
    let dry = bitbake(&build, "-n qing-template-python");
    assert!(dry.contains("Tasks Summary"), "{dry}");
    assert!(
        dry.contains("recipes-devtools/python/python3_"),
        "python3 is not built"
    );
    assert!(
        !dry.lines()
            .any(|l| l.contains("/linux-yocto_") && l.ends_with(":do_deploy)")),
        "a kernel deployed for a container's root"
    );
    let sample = bitbake(&build, "-e qing-sample-python");
    // The sample service is the file of qing's tree that build.sh's template runs.
    let filespath = var(&sample, "FILESPATH").expect("FILESPATH of qing-sample-python");
    let app = filespath
        .split(':')
        .find(|p| {
            p.trim_end_matches('/')
                .ends_with("/rootfs-templates/python/app")
        })
        .unwrap_or_else(|| panic!("qing's app directory not in {filespath}"));
    assert_eq!(
        Path::new(app).canonicalize().unwrap(),
        yocto::source()
            .join("rootfs-templates/python/app")
            .canonicalize()
            .unwrap()
    );
    assert_eq!(
        var(&sample, "SRC_URI").as_deref(),
        Some("file://service.py")
    );

    // The class's manifest step, run on a real squashfs of a real root: qing imports
    // what it writes and runs it by name.
    let scratch =
        std::env::temp_dir().join(format!("qing-test-yocto-template-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let deploy = scratch.join("deploy");
    std::fs::create_dir_all(&deploy).unwrap();
    let image = deploy.join("qing-template-python-qemuarm64.rootfs.squashfs-xz");
    let mut mk = Command::new("mksquashfs");
    mk.arg(common::rootfs())
        .arg(&image)
        .args(["-noappend", "-comp", "xz", "-quiet"]);
    let made = common::output(mk);
    assert_eq!(made.code, 0, "{made:?}");
    let function = python_function(&env, "qing_template_manifest");
    let deploy_s = deploy.display().to_string();
    let rootfs_s = common::rootfs().display().to_string();
    let (command, env_list, workdir) = (
        get("QING_TEMPLATE_COMMAND").replace("\\\"", "\""),
        get("QING_TEMPLATE_ENV").replace("\\\"", "\""),
        get("QING_TEMPLATE_WORKDIR"),
    );
    let vars = |cmd: &str| {
        vec![
            ("QING_TEMPLATE_NAME", "python".to_string()),
            ("QING_TEMPLATE_ARCH", "arm64".to_string()),
            ("QING_TEMPLATE_COMMAND", cmd.to_string()),
            ("QING_TEMPLATE_ENV", env_list.clone()),
            ("QING_TEMPLATE_WORKDIR", workdir.clone()),
            ("IMGDEPLOYDIR", deploy_s.clone()),
            (
                "IMAGE_NAME",
                "qing-template-python-qemuarm64.rootfs".to_string(),
            ),
            ("IMAGE_ROOTFS", rootfs_s.clone()),
            ("SOURCE_DATE_EPOCH", "1700000000".to_string()),
        ]
    };

    let good = vars(&command);
    let refs: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let ran = run_python_function(&function, "qing_template_manifest", &refs);
    assert_eq!(ran.code, 0, "{ran:?}");
    let manifest = std::fs::read_to_string(deploy.join("python.json")).unwrap();
    for want in [
        "\"name\": \"python\"",
        "\"arch\": \"arm64\"",
        "\"squashfs\": \"python.squashfs\"",
        "\"/usr/bin/python3\"",
        "\"workdir\": \"/app\"",
        "\"created\": 1700000000",
    ] {
        assert!(manifest.contains(want), "{want} not in {manifest}");
    }
    let state = scratch.join("state");
    let qing = |args: &[&str]| {
        let mut c = Command::new(common::qing_bin());
        c.arg("--root").arg(&state).args(args);
        common::output(c)
    };
    let imported = qing(&["import", &deploy.join("python.json").display().to_string()]);
    assert_eq!(imported.code, 0, "{imported:?}");
    let run = qing(&["run", "python", "/bin/echo", "made by yocto"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout.trim(), "made by yocto");

    // A command that is not a JSON array stops the image, naming the variable.
    let bad = vars("/usr/bin/python3 /app/service.py");
    let refs: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = run_python_function(&function, "qing_template_manifest", &refs);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused.stderr.contains("QING_TEMPLATE_COMMAND is not JSON"),
        "{refused:?}"
    );
    let _ = std::fs::remove_dir_all(&scratch);
}
