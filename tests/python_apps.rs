//! The python template runs the libraries services on boards use, each driven by a
//! small app of tests/apps/python/APP (main.py prints `ok APP: ...` and exits 0):
//! Flask, FastAPI on uvicorn, requests against a local HTTPS server, paho-mqtt through a
//! broker of the test, pyserial on a pty, and PyYAML.
//!
//! - The base template runs each app with the app's wheels on a volume (PYTHONPATH),
//!   from its squashfs image and from its directory.
//! - rootfs-templates/python/wheels.sh: wheels downloaded once and installed offline
//!   after, identically; a package without a wheel for the arch, and wheels that do not
//!   fit or would write outside the target, are refused, and nothing is left behind.
//!
//! The wheels come from the Python package index the first time (cached under
//! QING_CACHE, /var/cache/qing by default).

mod common;
use common::{service, Container};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Every app of tests/apps/python.
const APPS: [&str; 6] = ["flask", "fastapi", "requests", "mqtt", "serial", "yaml"];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn wheels_sh() -> PathBuf {
    repo().join("rootfs-templates/python/wheels.sh")
}

fn scratch(tag: &str) -> PathBuf {
    common::apps::scratch(&format!("py-{tag}"))
}

/// A fresh directory under target/tmp for what several tests of this process share
/// (made once, through a OnceLock): no test can remove it when it is done, so it lives
/// with the build's output and the next run replaces it.
fn shared_scratch(tag: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("python-apps-{tag}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn sh(script: &str, args: &[&str]) -> common::Output {
    let mut c = Command::new("sh");
    c.arg("-c").arg(script).arg("sh").args(args);
    common::output(c)
}

/// Throwaway certificates for "localhost" and the CA that signed them
/// (tests/common/certs.sh), made once: the directory holding ca.crt, server.crt and
/// server.key (readable by the container's user).
fn certificates() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = shared_scratch("certs");
        let made = sh(
            r#"sh "$1" "$2" 2>&1"#,
            &[
                &repo().join("tests/common/certs.sh").display().to_string(),
                &dir.display().to_string(),
            ],
        );
        assert_eq!(made.code, 0, "certs.sh: {made:?}");
        dir
    })
}

/// The directory of APP as the container gets it: tests/apps/python/APP itself, or for
/// requests a copy (named requests, as the template is named after it) with the
/// certificates written into it.
fn app_dir(app: &str) -> PathBuf {
    let source = repo().join("tests/apps/python").join(app);
    if app != "requests" {
        return source;
    }
    static REQUESTS: OnceLock<PathBuf> = OnceLock::new();
    REQUESTS
        .get_or_init(|| {
            let copy = shared_scratch("requests-app").join("requests");
            let made = sh(
                r#"cp -R "$1" "$2" && cp "$3/ca.crt" "$3/server.crt" "$3/server.key" "$2/""#,
                &[
                    &source.display().to_string(),
                    &copy.display().to_string(),
                    &certificates().display().to_string(),
                ],
            );
            assert_eq!(made.code, 0, "copying the requests app: {made:?}");
            copy
        })
        .clone()
}

/// `wheels.sh ARCH TARGET ARGS...` with QING_CACHE as given (None: the default cache).
fn run_wheels_sh(arch: &str, target: &Path, args: &[&str], cache: Option<&Path>) -> common::Output {
    let mut c = Command::new("sh");
    c.arg(wheels_sh()).arg(arch).arg(target).args(args);
    if let Some(cache) = cache {
        c.env("QING_CACHE", cache);
    }
    common::output(c)
}

/// APP's packages for amd64, installed by wheels.sh into a new directory.
fn installed_wheels(app: &str) -> PathBuf {
    let target = scratch(&format!("wheels-{app}")).join("site-packages");
    let requirements = app_dir(app).join("requirements.txt");
    let out = run_wheels_sh(
        "amd64",
        &target,
        &["--requirements", &requirements.display().to_string()],
        None,
    );
    assert_eq!(out.code, 0, "wheels.sh for {app}: {out:?}");
    target
}

/// What `qing run` printed passes for APP: exit 0 and its ok line.
fn assert_app_passed(app: &str, what: &str, out: &common::Output) {
    assert_eq!(out.code, 0, "{app} {what}: {out:?}");
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with(&format!("ok {app}: "))),
        "{app} {what}: no `ok {app}:` line in {out:?}"
    );
    println!("{app} {what}: {}", out.stdout.trim_end());
}

#[test]
fn the_base_template_runs_each_app_from_its_wheels_on_a_volume_on_amd64() {
    if common::skip_without("squashfs") {
        return;
    }
    let manifest = service::template("python", "amd64");
    common::apps::each(&APPS, |app| {
        let wheels = installed_wheels(app);
        let volumes = [
            format!("{}:/wheels:ro", wheels.display()),
            format!("{}:/t:ro", app_dir(app).display()),
        ];
        let opts = [
            "--memory",
            "128m",
            "--volume",
            &volumes[0],
            "--volume",
            &volumes[1],
            "--env",
            "PYTHONPATH=/wheels",
        ];
        for rootfs in [
            manifest.with_extension("squashfs"),
            manifest.with_extension(""),
        ] {
            let c = Container::new(&format!("pyapp-{app}"));
            let out = c.run_in(&rootfs, &opts, &["/usr/bin/python3", "/t/main.py"]);
            assert_app_passed(app, &format!("in {}", rootfs.display()), &out);
            c.assert_no_leftovers();
        }
        let _ = std::fs::remove_dir_all(wheels.parent().unwrap());
    });
}

#[test]
fn the_base_python_template_stays_within_20_mib_and_8_mib_on_amd64() {
    if common::skip_without("squashfs") {
        return;
    }
    let (dir, image) = common::apps::sizes(&service::template("python", "amd64"));
    println!("python: directory {dir} bytes, squashfs {image}");
    assert!(dir <= 20 << 20, "the directory is {dir} bytes");
    assert!(image <= 8 << 20, "the squashfs is {image} bytes");
}

#[test]
fn a_requirement_without_a_wheel_for_the_arch_fails_naming_it_and_writes_nothing_on_amd64() {
    // pydantic-core is compiled, and the index has no mipsel build of it.
    let app = scratch("no-mipsel-wheel").join("needs-pydantic-core");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(app.join("main.py"), "import pydantic_core\n").unwrap();
    std::fs::write(app.join("requirements.txt"), "pydantic-core==2.50.5\n").unwrap();
    let requirements = app.join("requirements.txt").display().to_string();

    let target = app.parent().unwrap().join("wheels/site-packages");
    let out = run_wheels_sh("mipsel", &target, &["--requirements", &requirements], None);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(
        out.stderr
            .contains("no wheel of pydantic-core==2.50.5 for mipsel")
            && out.stderr.contains("--wheels"),
        "the message names the package, the arch and what to do: {out:?}"
    );
    assert!(
        !target.parent().unwrap().exists(),
        "wheels.sh left {:?}",
        common::entries(target.parent().unwrap())
    );

    let _ = std::fs::remove_dir_all(app.parent().unwrap());
}

/// A listing of TREE that shows any difference in names, types, modes, sizes, mtimes
/// and content.
fn tree_listing(tree: &Path) -> String {
    let out = sh(
        r#"cd "$1" && find . -printf '%p %y %m %s %T@ %l\n' | LC_ALL=C sort &&
           find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum"#,
        &[&tree.display().to_string()],
    );
    assert_eq!(out.code, 0, "{out:?}");
    out.stdout
}

#[test]
fn wheels_are_downloaded_once_and_installed_offline_identically_on_amd64() {
    let dir = scratch("wheel-cache");
    let cache = dir.join("cache");
    let requirements = app_dir("yaml")
        .join("requirements.txt")
        .display()
        .to_string();
    let args = ["--requirements", requirements.as_str()];

    let first = run_wheels_sh("amd64", &dir.join("one/site"), &args, Some(&cache));
    assert_eq!(first.code, 0, "{first:?}");
    let cached = common::entries(&cache.join("wheels/amd64"));
    assert_eq!(
        cached.len(),
        1,
        "one complete download in the cache, nothing else: {cached:?}"
    );

    // The second time without any network: a network namespace with nothing in it.
    let mut offline = Command::new("unshare");
    offline
        .arg("--net")
        .arg("sh")
        .arg(wheels_sh())
        .arg("amd64")
        .arg(dir.join("two/site"))
        .args(args)
        .env("QING_CACHE", &cache);
    let second = common::output(offline);
    assert_eq!(second.code, 0, "offline, from the cache: {second:?}");
    assert!(!second.stderr.contains("downloading"), "{second:?}");

    let one = tree_listing(&dir.join("one/site"));
    assert!(one.contains("./yaml/__init__.py f 644 "), "{one}");
    assert!(one.contains(".dist-info/RECORD f 644 "), "{one}");
    assert_eq!(
        one,
        tree_listing(&dir.join("two/site")),
        "two installs differ"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A member of a wheel: its path, content, and unix mode with the file type.
type Entry<'a> = (&'a str, &'a [u8], u32);

/// Writes a wheel file DIR/NAME of distribution "demo" holding ENTRIES, besides its
/// WHEEL, METADATA and (empty) RECORD.
fn make_wheel(dir: &Path, name: &str, entries: &[Entry]) {
    let mut args = vec![dir.join(name).display().to_string()];
    for (path, data, mode) in entries {
        let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
        args.extend([path.to_string(), hex, mode.to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let made = sh(
        r#"python3 - "$@" <<'PY'
import sys, zipfile
out, entries = sys.argv[1], sys.argv[2:]
with zipfile.ZipFile(out, "w") as z:
    for i in range(0, len(entries), 3):
        path, data, mode = entries[i:i + 3]
        info = zipfile.ZipInfo(path)
        info.external_attr = int(mode) << 16
        z.writestr(info, bytes.fromhex(data))
    z.writestr("demo-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n")
    z.writestr("demo-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n")
    z.writestr("demo-1.0.dist-info/RECORD", "")
PY"#,
        &args,
    );
    assert_eq!(made.code, 0, "making {name}: {made:?}");
}

#[test]
fn wheels_that_do_not_fit_or_would_write_outside_the_target_are_refused_on_amd64() {
    const FILE: u32 = 0o100644;
    const LINK: u32 = 0o120777;
    // An ELF header of x86-64 code (class 64-bit, little-endian, e_machine 62).
    let mut x86_64_elf = b"\x7fELF\x02\x01\x01".to_vec();
    x86_64_elf.resize(18, 0);
    x86_64_elf.extend_from_slice(&62u16.to_le_bytes());
    let cases: &[(&str, &str, Vec<Entry>, &str)] = &[
        (
            "arm64",
            "demo-1.0-cp312-cp312-manylinux_2_17_aarch64.whl",
            vec![("demo.py", b"", FILE)],
            "not CPython 3.11",
        ),
        (
            "arm64",
            "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl",
            vec![("demo.py", b"", FILE)],
            "not arm64",
        ),
        (
            "amd64",
            "demo-1.0-cp311-cp311-manylinux_2_39_x86_64.whl",
            vec![("demo.py", b"", FILE)],
            "not amd64 with glibc 2.36",
        ),
        (
            "arm64",
            "demo-1.0-cp311-cp311-manylinux_2_17_aarch64.whl",
            vec![("demo.cpython-311-aarch64-linux-gnu.so", &x86_64_elf, FILE)],
            "is 64-bit little-endian x86-64 code, not arm64",
        ),
        (
            "amd64",
            "demo-1.0-py3-none-any.whl",
            vec![("../escape.py", b"x", FILE)],
            "leaves the install directory",
        ),
        (
            "amd64",
            "demo-1.0-py3-none-any.whl",
            vec![("demo/../../escape.py", b"x", FILE)],
            "leaves the install directory",
        ),
        (
            "amd64",
            "demo-1.0-py3-none-any.whl",
            vec![("/tmp/escape.py", b"x", FILE)],
            "absolute",
        ),
        (
            "amd64",
            "demo-1.0-py3-none-any.whl",
            vec![("demo/link", b"/etc", LINK)],
            "is a symlink",
        ),
    ];
    for (arch, name, wheel_entries, why) in cases {
        let dir = scratch("bad-wheel");
        let wheels = dir.join("wheels");
        std::fs::create_dir(&wheels).unwrap();
        make_wheel(&wheels, name, wheel_entries);
        let before = common::entries(&dir);
        let target = dir.join("site");
        let out = run_wheels_sh(
            arch,
            &target,
            &["--wheels", &wheels.display().to_string()],
            None,
        );
        assert_ne!(
            out.code, 0,
            "{name} {wheel_entries:?} was installed: {out:?}"
        );
        assert!(
            out.stderr.contains(name) && out.stderr.contains(why),
            "{name}: want {why:?} in {out:?}"
        );
        assert_eq!(
            common::entries(&dir),
            before,
            "{name}: something was left beside the target"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
    // And a good one installs, with fixed modes, the executable bit kept as the wheel has it.
    let dir = scratch("good-wheel");
    let wheels = dir.join("wheels");
    std::fs::create_dir(&wheels).unwrap();
    make_wheel(
        &wheels,
        "demo-1.0-py3-none-any.whl",
        &[
            ("demo/__init__.py", b"X = 1\n", 0o100600),
            ("demo/tool", b"#!/bin/sh\n", 0o100700),
        ],
    );
    let target = dir.join("site");
    let out = run_wheels_sh(
        "mipsel",
        &target,
        &["--wheels", &wheels.display().to_string()],
        None,
    );
    assert_eq!(out.code, 0, "{out:?}");
    let listing = tree_listing(&target);
    for line in [
        "./demo/__init__.py f 644 6 ",
        "./demo/tool f 755 10 ",
        "./demo-1.0.dist-info/RECORD f 644 ",
    ] {
        assert!(listing.contains(line), "no {line:?} in {listing}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- a template for one app (rootfs-templates/build.sh python ARCH OUT --app DIR) ----

/// For each app, a module its template must have kept, and why the graph finds it.
const KEPT_BY: [(&str, &str); 6] = [
    ("flask", "difflib"),   // werkzeug's routing
    ("fastapi", "asyncio"), // uvicorn and starlette
    ("requests", "ssl"),    // urllib3
    ("mqtt", "selectors"),  // paho's client loop
    ("serial", "termios"),  // pyserial's serialposix, an extension module
    ("yaml", "base64"),     // PyYAML's !!binary
];

/// The build.sh arguments for APP's template, its packages from its requirements.
fn app_args(app: &str) -> Vec<String> {
    let dir = app_dir(app);
    vec![
        "--app".into(),
        dir.display().to_string(),
        "--requirements".into(),
        dir.join("requirements.txt").display().to_string(),
        "--check".into(),
        "/usr/bin/python3 /app/main.py".into(),
    ]
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Bytes of the files (and symlinks) under `dir`, as the manifest counts a directory.
fn bytes_under(dir: &Path) -> u64 {
    let out = sh(
        r#"find "$1" \( -type f -o -type l \) -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'"#,
        &[&dir.display().to_string()],
    );
    assert_eq!(out.code, 0, "{out:?}");
    out.stdout.trim().parse().unwrap()
}

/// Bytes of `dir` as a squashfs image made as build.sh makes one (xz, 256 KiB blocks).
fn squashfs_bytes(dir: &Path) -> u64 {
    let image = dir.with_extension("measure.squashfs");
    let out = sh(
        r#"mksquashfs "$1" "$2" -noappend -quiet -no-progress -comp xz -b 256K -no-xattrs >/dev/null && stat -c %s "$2" && rm -f "$2""#,
        &[&dir.display().to_string(), &image.display().to_string()],
    );
    assert_eq!(out.code, 0, "{out:?}");
    out.stdout.trim().parse().unwrap()
}

/// An app's template against the base template: what runs the app otherwise is the base
/// template with the app's packages beside it (on a volume), so the app's template must
/// be smaller than the two together, in both forms. Prints how it compares with the
/// base alone, too (smaller for the apps whose packages are small).
fn assert_smaller_than_base_with_packages(app: &str, manifest: &Path, base: &Path) {
    let (dir, image) = common::apps::sizes(manifest);
    let (base_dir, base_image) = common::apps::sizes(base);
    let packages = manifest
        .with_extension("")
        .join("usr/lib/python3/dist-packages");
    let (pkg_dir, pkg_image) = (bytes_under(&packages), squashfs_bytes(&packages));
    println!(
        "{app}: directory {dir} bytes: {:.0}% of the base with its packages ({}), {:.0}% of the base alone; squashfs {image}: {:.0}% of the base with its packages ({}), {:.0}% of the base alone",
        100.0 * dir as f64 / (base_dir + pkg_dir) as f64,
        base_dir + pkg_dir,
        100.0 * dir as f64 / base_dir as f64,
        100.0 * image as f64 / (base_image + pkg_image) as f64,
        base_image + pkg_image,
        100.0 * image as f64 / base_image as f64,
    );
    assert!(
        dir < base_dir + pkg_dir && image < base_image + pkg_image,
        "{app}'s template is not smaller than the base template with its packages"
    );
    assert!(
        dir - pkg_dir < base_dir,
        "{app}'s template without its packages is not smaller than the base template"
    );
}

#[test]
fn each_app_gets_a_trimmed_template_that_runs_as_directory_image_and_docker_image_on_amd64() {
    if common::skip_without("squashfs") {
        return;
    }
    let base = service::template("python", "amd64");
    let engine = (!common::docker::skip_without_docker()).then(common::docker::Engine::start);
    let out = scratch("app-templates");
    common::apps::each(&APPS, |app| {
        let manifest = common::apps::build_app("python", "amd64", &out, &strs(&app_args(app)));
        let text = std::fs::read_to_string(&manifest).unwrap();
        assert!(
            text.contains("\"variant\": \"app\"") && text.contains("\"/app/main.py\""),
            "{app}: the manifest runs the app by default: {text}"
        );
        let kept = common::apps::kept(&manifest);
        let (_, must) = KEPT_BY.iter().find(|(a, _)| *a == app).unwrap();
        assert!(
            kept.iter().any(|m| m == must),
            "{app}: {must} not in {kept:?}"
        );
        // Trimmed: the base's sqlite3 is nothing these apps import.
        assert!(!kept.iter().any(|m| m == "sqlite3"), "{app}: {kept:?}");
        assert_smaller_than_base_with_packages(app, &manifest, &base);
        common::apps::assert_runs_from_image_and_directory(
            &manifest,
            &["--memory", "128m"],
            &format!("ok {app}: "),
        );
        if let Some(engine) = &engine {
            common::apps::assert_runs_under_docker(engine, &manifest, &format!("ok {app}: "));
        }
        common::apps::assert_rebuilds_identically(
            "python",
            "amd64",
            &manifest,
            &strs(&app_args(app)),
        );
    });
    let _ = std::fs::remove_dir_all(&out);
}

/// Every module of DIR (a template's tree) without its bytecode beside it, as CPython
/// 3.11 looks for it (`__pycache__/NAME.cpython-311.pyc`).
fn modules_without_bytecode(dir: &Path) -> Vec<PathBuf> {
    let mut missing = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                dirs.push(path);
            } else if meta.is_file() && path.extension().is_some_and(|e| e == "py") {
                let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
                let pyc = d
                    .join("__pycache__")
                    .join(format!("{stem}.cpython-311.pyc"));
                if !pyc.is_file() {
                    missing.push(path);
                }
            }
        }
    }
    missing
}

#[test]
fn with_bytecode_an_app_template_starts_without_compiling_its_packages_on_amd64() {
    if common::skip_without("squashfs") {
        return;
    }
    let out = scratch("bytecode");
    let mut args = app_args("flask");
    args.extend([
        "--bytecode".into(),
        "--name".into(),
        "flask-bytecode".into(),
    ]);
    let manifest = common::apps::build_app("python", "amd64", &out, &strs(&args));
    let tree = manifest.with_extension("");
    for dir in ["app", "usr/lib/python3/dist-packages"] {
        let missing = modules_without_bytecode(&tree.join(dir));
        assert!(missing.is_empty(), "no bytecode for {missing:?}");
    }
    // Inside a read-only container, `python3 -v` names where each module's code came
    // from: for every module of the packages, its .pyc, never its source. With
    // PYTHONPYCACHEPREFIX elsewhere, Python looks for no __pycache__ and compiles every
    // module from source, which the same reading must then see.
    let c = Container::new("app-bytecode");
    let image = manifest.with_extension("squashfs");
    let loaded_from = |env: &[&str]| -> (Vec<String>, Vec<String>) {
        let mut opts = vec!["--read-only"];
        for e in env {
            opts.extend(["--env", e]);
        }
        let ran = c.run_in(
            &image,
            &opts,
            &["/usr/bin/python3", "-v", "-c", "import flask"],
        );
        assert_eq!(ran.code, 0, "{ran:?}");
        let (pyc, source): (Vec<String>, Vec<String>) = ran
            .stderr
            .lines()
            .filter(|l| {
                l.starts_with("# code object from ")
                    && l.contains("/usr/lib/python3/dist-packages/")
            })
            .map(str::to_string)
            .partition(|l| l.contains("/__pycache__/"));
        (pyc, source)
    };
    let (pyc, source) = loaded_from(&[]);
    assert!(
        pyc.iter()
            .any(|l| l.contains("flask/__pycache__/__init__.cpython-311.pyc")),
        "flask's code did not come from its bytecode: {pyc:?}"
    );
    assert!(
        source.is_empty(),
        "compiled from source at start: {source:?}"
    );
    let (pyc, source) = loaded_from(&["PYTHONPYCACHEPREFIX=/nonexistent"]);
    assert!(
        pyc.is_empty() && source.iter().any(|l| l.ends_with("flask/__init__.py")),
        "without its __pycache__, flask was not compiled from source: {pyc:?} {source:?}"
    );
    c.assert_no_leftovers();
    let (dir, image) = common::apps::sizes(&manifest);
    println!("flask --bytecode: directory {dir} bytes, squashfs {image}");
    common::apps::assert_runs_from_image_and_directory(
        &manifest,
        &["--memory", "128m"],
        "ok flask: ",
    );
    common::apps::assert_rebuilds_identically("python", "amd64", &manifest, &strs(&args));
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn wheels_given_as_a_directory_make_the_same_app_template_as_requirements_on_amd64() {
    if common::skip_without("squashfs") {
        return;
    }
    let out = scratch("app-from-requirements");
    let args = app_args("yaml");
    let manifest = common::apps::build_app("python", "amd64", &out, &strs(&args));
    // The same wheels given as a directory (the cache the first build filled) make the
    // same template.
    let requirements = app_dir("yaml").join("requirements.txt");
    let sha = sh(
        r#"sha256sum "$1" | cut -d' ' -f1"#,
        &[&requirements.display().to_string()],
    );
    let cached = Path::new(&std::env::var("QING_CACHE").unwrap_or("/var/cache/qing".into()))
        .join("wheels/amd64")
        .join(sha.stdout.trim());
    assert!(cached.is_dir(), "no wheel cache at {}", cached.display());
    let from_dir = scratch("app-from-wheels");
    let again = common::apps::build_app(
        "python",
        "amd64",
        &from_dir,
        &[
            &args[0],
            &args[1],
            "--wheels",
            &cached.display().to_string(),
            &args[4],
            &args[5],
        ],
    );
    assert_eq!(
        std::fs::read(manifest.with_extension("squashfs")).unwrap(),
        std::fs::read(again.with_extension("squashfs")).unwrap(),
        "--wheels and --requirements of the same wheels differ"
    );
    let _ = std::fs::remove_dir_all(&out);
    let _ = std::fs::remove_dir_all(&from_dir);
}

#[test]
fn a_foreign_app_template_is_checked_under_qemu_user_on_amd64() {
    if common::skip_without("squashfs")
        || common::skip_unless(
            common::qemu_user("aarch64"),
            "qemu-user for aarch64 (cross/qemu-user.sh aarch64; tests/run.sh does)",
        )
    {
        return;
    }
    let out = scratch("app-arm64");
    let built = common::apps::build("python", "arm64", &out, &strs(&app_args("yaml")));
    assert_eq!(built.code, 0, "{built:?}");
    assert!(
        built.stderr.contains("ok yaml: "),
        "the check ran: {built:?}"
    );
    let manifest = out.join("yaml.json");
    assert!(std::fs::read_to_string(&manifest)
        .unwrap()
        .contains("\"arch\": \"arm64\""));
    let _ = std::fs::remove_dir_all(&out);
}

/// An app of its own in a new directory: main.py with `source`, and any other files.
fn own_app(tag: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = scratch(tag).join("dynamic");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    dir
}

#[test]
fn a_module_imported_by_a_computed_name_needs_keep_and_without_it_nothing_is_written_on_amd64() {
    if common::skip_without("squashfs") {
        return;
    }
    // colorsys by a name the graph cannot read; the cp437 codec by the name codecs looks
    // up, which rootfs-templates/python/dynamic/cpython.txt keeps in every template.
    let app = own_app(
        "keep",
        &[(
            "main.py",
            "import importlib, time\n\
             m = importlib.import_module('color' + 'sys')\n\
             t = time.strptime('2026-12-02', '%Y-%m-%d')\n\
             print('ok dynamic:', m.rgb_to_hsv(1, 0, 0), t.tm_yday, b'\\x9b'.decode('cp437'))\n",
        )],
    );
    let out = app.parent().unwrap().join("out");
    let base = [
        "--app",
        &app.display().to_string(),
        "--check",
        "/usr/bin/python3 /app/main.py",
    ];
    let failed = common::apps::build("python", "amd64", &out, &base);
    assert_ne!(failed.code, 0, "{failed:?}");
    assert!(
        failed.stderr.contains("No module named 'colorsys'")
            && failed.stderr.contains("the check of dynamic failed"),
        "{failed:?}"
    );
    assert!(
        common::entries(&out).is_empty(),
        "left {:?}",
        common::entries(&out)
    );

    let manifest = common::apps::build_app(
        "python",
        "amd64",
        &out,
        &[&base[..], &["--keep", "colorsys"]].concat(),
    );
    let text = std::fs::read_to_string(&manifest).unwrap();
    for (module, why) in [
        ("colorsys", "--keep"),
        ("encodings.cp437", "dynamic/cpython.txt"),
        ("importlib", "import in /app/main.py"),
    ] {
        assert!(
            text.contains(&format!(
                "\"module\": \"{module}\",\n      \"why\": \"{why}\""
            )),
            "{module} kept for {why:?}: {text}"
        );
    }
    let _ = std::fs::remove_dir_all(app.parent().unwrap());
}

#[test]
fn the_full_template_has_the_whole_standard_library_on_amd64() {
    if common::skip_without("squashfs") {
        return;
    }
    let out = scratch("full");
    let manifest = common::apps::build_app("python", "amd64", &out, &["--full"]);
    assert_eq!(manifest, out.join("python-full.json"));
    let (dir, image) = common::apps::sizes(&manifest);
    println!("python-full: directory {dir} bytes, squashfs {image}");
    // What the base template leaves out, with the C libraries they link.
    let c = Container::new("python-full");
    let ran = c.run_in(
        &manifest.with_extension("squashfs"),
        &[],
        &[
            "/usr/bin/python3",
            "-c",
            "import bz2, lzma, curses, dbm.ndbm, readline, decimal, _decimal, uuid, _uuid, \
             sqlite3, xml.dom.minidom, xmlrpc.client, unittest, doctest, pdb, ftplib, mailbox\n\
             print('ok full', decimal.Decimal(1) / 3, bz2.decompress(bz2.compress(b'x')), \
             lzma.decompress(lzma.compress(b'y')), 'caf\\u00e9'.encode('euc_jp'))",
        ],
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(
        ran.stdout
            .contains("ok full 0.3333333333333333333333333333 b'x' b'y'"),
        "{ran:?}"
    );
    c.assert_no_leftovers();
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn bad_app_directories_are_refused_and_leave_nothing_on_amd64() {
    let outside = scratch("bad-apps-outside");
    let cases: Vec<(PathBuf, Vec<&str>, &str)> = vec![
        (
            own_app("no-entry", &[("lib.py", "X = 1\n")]),
            vec![],
            "has no __main__.py, main.py or app.py: give --command",
        ),
        (
            own_app(
                "syntax",
                &[("main.py", "print('ok')\n"), ("broken.py", "def f(:\n")],
            ),
            vec![],
            "broken.py does not compile",
        ),
        (
            own_app("no-such-keep", &[("main.py", "print('ok')\n")]),
            vec!["--keep", "nosuchmodule"],
            "--keep nosuchmodule: no such module",
        ),
        (
            {
                let app = own_app("link-out", &[("main.py", "print('ok')\n")]);
                std::os::unix::fs::symlink("/etc/shadow", app.join("secrets.txt")).unwrap();
                app
            },
            vec![],
            "links to /etc/shadow, outside the app",
        ),
        (
            {
                let app = own_app("fifo", &[("main.py", "print('ok')\n")]);
                let made = sh(r#"mkfifo "$1/pipe""#, &[&app.display().to_string()]);
                assert_eq!(made.code, 0, "{made:?}");
                app
            },
            vec![],
            "is not a regular file, directory or symlink",
        ),
    ];
    for (app, extra, message) in cases {
        let out = outside
            .join(app.parent().unwrap().file_name().unwrap())
            .join("out");
        let mut args = vec!["--app", app.to_str().unwrap()];
        args.extend(extra);
        let got = common::apps::build("python", "amd64", &out, &args);
        assert_ne!(got.code, 0, "{app:?}: {got:?}");
        assert!(
            got.stderr.contains(message),
            "{app:?}: want {message:?} in {got:?}"
        );
        assert!(
            common::entries(&out).is_empty(),
            "{app:?} left {:?}",
            common::entries(&out)
        );
        let _ = std::fs::remove_dir_all(app.parent().unwrap());
    }
    let _ = std::fs::remove_dir_all(&outside);
}
