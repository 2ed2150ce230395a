//! Entry points for tests/fuzz, one per parser of outside input, built only under
//! cargo-fuzz (`--cfg fuzzing`). Each feeds bytes to the parser qing itself calls;
//! none parses anything of its own. Errors are the expected outcome of most inputs:
//! only a panic, a hang or a runaway allocation is a finding.
//!
//! Seccomp profiles (`--seccomp FILE.json`) have no parser yet: qing refuses a file.

use crate::spec::{Id, User};
use std::path::Path;

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// `qing run ARGS...`: the arguments, NUL-separated, through the command line's
/// parser and the run options' checks (`spec::build`), as `qing run` calls them
/// (with "fuzz" for a missing --name). The host's environment is a stand-in that has
/// every variable, named after itself.
pub fn run_options(data: &[u8]) {
    let data = text(data);
    let argv: Vec<&str> = data.split('\0').collect();
    let Ok(cmd) = crate::cli::find("run") else {
        return;
    };
    if let Ok(a) = crate::cli::parse::parse(cmd, &argv) {
        let name = a.value("--name").unwrap_or("fuzz").to_string();
        let options = crate::cli::options(&a, 0);
        let _ = crate::spec::build(name, &options, |k| Some(k.to_string()), 4);
    }
}

/// A container's config, CONFIG_DIR/NAME.json, as `qing start` reads it.
pub fn config(data: &[u8]) {
    let path = Path::new("/fuzz/web.json");
    if let Ok(doc) = crate::json::parse_object(data, path, "config") {
        let _ = crate::config::from_json("web", &doc).map(|c| c.to_json());
    }
}

/// The bridge's settings, CONFIG_DIR/net/bridge.json.
pub fn bridge(data: &[u8]) {
    let path = Path::new("/fuzz/net/bridge.json");
    let Ok(doc) = crate::json::parse_object(data, path, "bridge settings") else {
        return;
    };
    // A config directory with no settings: the defaults, which `set` overrides.
    let none = Path::new("/nonexistent/qing-fuzz");
    if let Ok(mut bridge) = crate::net::bridge::Bridge::configured(none) {
        if bridge.set(&doc).is_ok() {
            let _ = bridge.subnet.to_string();
        }
    }
}

/// A template manifest, NAME.json.
pub fn manifest(data: &[u8]) {
    let path = Path::new("/fuzz/t.json");
    if let Ok(doc) = crate::json::parse_object(data, path, "manifest") {
        let _ = crate::template::Manifest::from_doc(&doc);
    }
}

/// The image's /etc/passwd and /etc/group, with a `--user` value: the first line is
/// the value (through its own parser), the rest up to a NUL the passwd file, after it
/// the group file.
pub fn passwd(data: &[u8]) {
    let data = text(data);
    let (user, files) = data.split_once('\n').unwrap_or((&data, ""));
    let (passwd, group) = files.split_once('\0').unwrap_or((files, ""));
    let user = match user {
        "" => None,
        u => match crate::spec::parse_user(u) {
            Ok(u) => Some(u),
            // Names the value's parser refuses still reach the lookup this way.
            Err(_) => Some(User {
                user: Id::Name(u.to_string()),
                group: Some(Id::Name(u.to_string())),
            }),
        },
    };
    let _ = crate::process::resolve_user_in(user.as_ref(), passwd, group);
}

/// /proc/self/mountinfo (cgroup hierarchies, the mounts a pivot detaches) and
/// /proc/self/fdinfo/N (mnt_id).
pub fn mountinfo(data: &[u8]) {
    let data = text(data);
    let layout = crate::cgroup::layout::parse_mountinfo(&data);
    for c in crate::cgroup::layout::CONTROLLERS {
        let _ = layout.hierarchy_of(c);
    }
    for _ in crate::rootfs::pivot::mount_points(&data) {}
    let _ = crate::rootfs::resolve::mnt_id_of(&data);
}

/// The files qing reads in a container's cgroups.
pub fn cgroup(data: &[u8]) {
    use crate::cgroup::files;
    let data = text(data);
    for _ in files::procs(&data) {}
    let _ = files::oom_killed(&data);
    let _ = files::number(&data);
    let _ = files::cpu_usage_usec(&data);
    let _ = files::controllers(&data);
}

/// A netlink reply to one of qing's requests.
pub fn netlink(data: &[u8]) {
    let _ = crate::net::netlink::parse_ack(data);
}
