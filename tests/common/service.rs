//! The sample services of the runtime templates: where the built templates are, the
//! probe that runs inside a container (or a Docker container) to exercise a service,
//! and the checks on what it reports.

use miniserde::json::{self, Object, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Starts the service ("$@"), waits for it to answer GET /, sends a request and a bad
/// one, reports its RSS, stops it with SIGTERM and reports its exit status.
/// tests/bench/templates.sh runs the same probe.
pub const PROBE: &str = include_str!("probe.sh");

pub fn templates_dir(arch: &str) -> PathBuf {
    let base = std::env::var_os("QING_TEMPLATES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-templates"));
    base.join(arch)
}

/// Builds NAME for ARCH unless its manifest is there already.
pub fn template(name: &str, arch: &str) -> PathBuf {
    let dir = templates_dir(arch);
    let manifest = dir.join(format!("{name}.json"));
    if !manifest.exists() {
        let build = Path::new(env!("CARGO_MANIFEST_DIR")).join("rootfs-templates/build.sh");
        let status = Command::new(build)
            .args([name, arch])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "building the {name} template for {arch} failed"
        );
    }
    manifest
}

pub fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => s.clone(),
                other => panic!("not a string: {}", json::to_string(other)),
            })
            .collect(),
        _ => Vec::new(),
    }
}

pub fn object(text: &str) -> Object {
    match json::from_str::<Value>(text) {
        Ok(Value::Object(o)) => o,
        _ => panic!("not a JSON object: {text:?}"),
    }
}

/// A member of `o` as JSON text ("" when absent): "\"ok\"", "42".
pub fn field(o: &Object, key: &str) -> String {
    o.get(key).map(json::to_string).unwrap_or_default()
}

/// The line of `out` that starts with `key `, without the key.
pub fn line<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {key:?} line in {out:?}"))
}

/// The command that starts the template's sample service, with PORT=8080 checked to be
/// in the manifest's environment: the manifest's default command, except for busybox,
/// the base and debug shell template, whose default is its shell and whose service is
/// /app/service.
pub fn service_command(manifest: &Path) -> Vec<String> {
    let m = object(&std::fs::read_to_string(manifest).unwrap());
    let command = strings(m.get("command"));
    assert!(
        !command.is_empty(),
        "{} has no default command",
        manifest.display()
    );
    assert!(
        strings(m.get("env")).iter().any(|e| e == "PORT=8080"),
        "{} has no PORT=8080",
        manifest.display()
    );
    if command == ["/bin/sh"] {
        return vec!["/app/service".to_string()];
    }
    command
}

/// Writes the probe to a file of its own, to bind into containers.
pub fn probe_file(tag: &str) -> PathBuf {
    let probe = std::env::temp_dir().join(format!("qing-probe-{tag}-{}.sh", std::process::id()));
    std::fs::write(&probe, PROBE).unwrap();
    probe
}

/// Checks what the probe printed: the service answered GET and POST as the contract
/// says, refused a bad body and a name that is not a string with 400, and ended with status 0 on SIGTERM.
pub fn assert_answered(stdout: &str, runtime: &str, what: &str) {
    let get = object(line(stdout, "get"));
    assert_eq!(field(&get, "status"), "\"ok\"", "{what}: {stdout}");
    let post = object(line(stdout, "post"));
    assert_eq!(
        field(&post, "runtime"),
        format!("\"{runtime}\""),
        "{what}: {stdout}"
    );
    assert_eq!(
        field(&post, "greeting"),
        "\"hello, qing\"",
        "{what}: {stdout}"
    );
    assert_eq!(field(&post, "sum"), "42", "{what}: {stdout}");
    assert!(
        matches!(post.get("echo"), Some(Value::Object(_))),
        "{what}: {stdout}"
    );
    assert_eq!(line(stdout, "bad"), "400", "{what}: {stdout}");
    assert_eq!(line(stdout, "badname"), "400", "{what}: {stdout}");
    assert_eq!(
        line(stdout, "exit"),
        "0",
        "SIGTERM ends it cleanly: {what}: {stdout}"
    );
}
