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

/// A fresh scratch directory of this test process.
fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("qing-test-pyapps-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn sh(script: &str, args: &[&str]) -> common::Output {
    let mut c = Command::new("sh");
    c.arg("-c").arg(script).arg("sh").args(args);
    common::output(c)
}

/// Throwaway certificates for "localhost" and the CA that signed them (the commands of
/// rootfs-templates/python/check_modules.py), made once: the directory holding ca.crt,
/// server.crt and server.key (readable by the container's user).
fn certificates() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch("certs");
        let made = sh(
            r#"cd "$1" &&
            openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 \
                -subj "/CN=qing test CA" -addext basicConstraints=critical,CA:TRUE \
                -addext keyUsage=critical,keyCertSign &&
            openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost &&
            printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >ext.cnf &&
            openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
                -out server.crt -days 2 -extfile ext.cnf &&
            chmod 0644 server.key"#,
            &[&dir.display().to_string()],
        );
        assert_eq!(made.code, 0, "openssl: {made:?}");
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
            let copy = scratch("requests-app").join("requests");
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

/// Runs `check` for every app, each on its own: a failing app does not hide the ones
/// after it. Panics at the end naming the apps that failed (their messages are above).
fn for_each_app(apps: &[&str], check: impl Fn(&str)) {
    let failed: Vec<&str> = apps
        .iter()
        .copied()
        .filter(|app| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(app))).is_err()
        })
        .collect();
    assert!(
        failed.is_empty(),
        "failed: {failed:?} (see the panics above)"
    );
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
    for_each_app(&APPS, |app| {
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
