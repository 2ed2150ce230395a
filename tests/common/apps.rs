//! Templates made for one application (`rootfs-templates/build.sh RECIPE ARCH OUT --app
//! ...`): built with the tested qing doing the build's check, compared with the base
//! template, rebuilt, and run in every form a board or a Docker host gets them: the
//! directory, the squashfs image and a Docker image.

use super::docker::Engine;
use super::service::object;
use super::{output, qing_bin, Container, Output};
use miniserde::json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh, empty scratch directory of this test process, named after `tag`.
pub fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("qing-test-apps-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `check` for every app, each on its own: a failing app does not hide the ones
/// after it. Panics at the end naming the apps that failed (their messages are above).
pub fn each(apps: &[&str], check: impl Fn(&str)) {
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

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `rootfs-templates/build.sh RECIPE ARCH OUT ARGS...`, with QING set to the qing under
/// test (for --check). Its output, whatever the status.
pub fn build(recipe: &str, arch: &str, out: &Path, args: &[&str]) -> Output {
    let mut c = Command::new(repo().join("rootfs-templates/build.sh"));
    c.args([recipe, arch])
        .arg(out)
        .args(args)
        .env("QING", qing_bin());
    output(c)
}

/// A template for one app, built into `out`: the path of its manifest. The build must
/// pass, its check included.
pub fn build_app(recipe: &str, arch: &str, out: &Path, args: &[&str]) -> PathBuf {
    let built = build(recipe, arch, out, args);
    assert_eq!(
        built.code, 0,
        "building {recipe} {args:?} for {arch}: {built:?}"
    );
    let dir = PathBuf::from(built.stdout.lines().last().unwrap_or_default());
    let manifest = dir.with_extension("json");
    assert!(
        manifest.is_file(),
        "build.sh printed {dir:?}, which has no manifest: {built:?}"
    );
    manifest
}

fn manifest_object(manifest: &Path) -> miniserde::json::Object {
    object(&std::fs::read_to_string(manifest).unwrap())
}

/// (directory, squashfs) bytes, as the manifest records them.
pub fn sizes(manifest: &Path) -> (u64, u64) {
    let m = manifest_object(manifest);
    let number = |key: &str| match m.get("size") {
        Some(Value::Object(size)) => match size.get(key) {
            Some(Value::Number(n)) => n.to_string().parse::<u64>().unwrap(),
            other => panic!("{}: size.{key} is {other:?}", manifest.display()),
        },
        _ => panic!("{} has no size", manifest.display()),
    };
    (number("directory"), number("squashfs"))
}

/// The module names the manifest says were kept ("kept": [{"module", "why"}...]), each
/// with a reason.
pub fn kept(manifest: &Path) -> Vec<String> {
    kept_with_why(manifest)
        .into_iter()
        .map(|(m, _)| m)
        .collect()
}

/// The manifest's "kept" entries as (module, why), every one with a reason.
pub fn kept_with_why(manifest: &Path) -> Vec<(String, String)> {
    let string = |o: &miniserde::json::Object, key: &str| match o.get(key) {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => panic!("{}: a kept entry without {key}: {o:?}", manifest.display()),
    };
    match manifest_object(manifest).get("kept") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::Object(o) => (string(o, "module"), string(o, "why")),
                other => panic!("{}: kept holds {other:?}", manifest.display()),
            })
            .collect(),
        _ => panic!("{} records nothing kept", manifest.display()),
    }
}

/// The app's template is smaller than the base template in both forms; prints by how
/// much (the test's output is the record of it).
pub fn assert_smaller(manifest: &Path, base: &Path) {
    let (dir, image) = sizes(manifest);
    let (base_dir, base_image) = sizes(base);
    println!(
        "{}: directory {dir} bytes ({:.0}% of the base's {base_dir}), squashfs {image} ({:.0}% of {base_image})",
        manifest.display(),
        100.0 * dir as f64 / base_dir as f64,
        100.0 * image as f64 / base_image as f64
    );
    assert!(
        dir < base_dir && image < base_image,
        "{} is not smaller than {}",
        manifest.display(),
        base.display()
    );
}

/// A second build of the same inputs into a fresh directory gives a byte-identical
/// squashfs and manifest.
pub fn assert_rebuilds_identically(recipe: &str, arch: &str, manifest: &Path, args: &[&str]) {
    let again = std::env::temp_dir().join(format!(
        "qing-test-rebuild-{}-{}",
        manifest.file_stem().unwrap().to_string_lossy(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&again);
    let second = build_app(recipe, arch, &again, args);
    let image = |m: &Path| std::fs::read(m.with_extension("squashfs")).unwrap();
    assert!(
        image(manifest) == image(&second),
        "two builds of {} differ",
        manifest.display()
    );
    assert_eq!(
        std::fs::read_to_string(manifest).unwrap(),
        std::fs::read_to_string(&second).unwrap(),
        "two manifests of {} differ",
        manifest.display()
    );
    let _ = std::fs::remove_dir_all(&again);
}

/// The manifest's default command, under qing, from the squashfs image and from the
/// directory (both take their defaults from the manifest beside them): exits 0 and
/// prints `expect`, and leaves nothing behind.
pub fn assert_runs_from_image_and_directory(manifest: &Path, opts: &[&str], expect: &str) {
    let dir = manifest.with_extension("");
    for rootfs in [manifest.with_extension("squashfs"), dir] {
        let c = Container::new(&format!(
            "app-{}",
            manifest.file_stem().unwrap().to_string_lossy()
        ));
        let out = c.run_in(&rootfs, opts, &[]);
        assert_eq!(out.code, 0, "{}: {out:?}", rootfs.display());
        assert!(
            out.stdout.contains(expect),
            "{}: no {expect:?} in {out:?}",
            rootfs.display()
        );
        c.assert_no_leftovers();
    }
}

/// The template as a Docker image (rootfs-templates/to-docker.sh), run with the image's
/// own command and no network: exits 0 and prints `expect`. The image is removed after.
pub fn assert_runs_under_docker(engine: &Engine, manifest: &Path, expect: &str) {
    let tag = format!(
        "qing-app/{}:test",
        manifest.file_stem().unwrap().to_string_lossy()
    );
    let made = engine.script(
        "rootfs-templates/to-docker.sh",
        &[&manifest.display().to_string(), &tag],
    );
    assert_eq!(
        made.code,
        0,
        "to-docker.sh {}: {made:?}",
        manifest.display()
    );
    let ran = engine.docker(&["run", "--rm", "--network", "none", &tag]);
    assert_eq!(ran.code, 0, "docker run {tag}: {ran:?}");
    assert!(
        ran.stdout.contains(expect),
        "docker run {tag}: no {expect:?} in {ran:?}"
    );
    assert_eq!(engine.docker(&["rmi", &tag]).code, 0);
}
