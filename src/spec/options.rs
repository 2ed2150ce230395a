//! `qing run`'s options, each described once: this table is the command line of
//! `run` and `create`, the keys of a container's config, and what `create` writes.
//! Adding an option is an entry here and the code where it takes effect (`build`).

use crate::features::{BRIDGE, CORE, SECCOMP, SQUASHFS};
use crate::flag::{option, Flag, Takes};

pub static RUN: [Flag; 19] = [
    option(
        "--memory",
        Takes::Value("SIZE"),
        "memory",
        "memory limit: bytes, or a number with k, m or g",
        &CORE,
    ),
    option(
        "--cpus",
        Takes::Value("CPUS"),
        "cpus",
        "CPU limit, as a number of CPUs (0.5, 2)",
        &CORE,
    ),
    option(
        "--pids",
        Takes::Value("N"),
        "pids",
        "most processes the container may have at once",
        &CORE,
    ),
    option(
        "--hostname",
        Takes::Value("NAME"),
        "hostname",
        "host name (default: the container name)",
        &CORE,
    ),
    option(
        "--env",
        Takes::Values("KEY=VALUE"),
        "env",
        "environment entry; KEY alone passes the host's value",
        &CORE,
    ),
    option(
        "--workdir",
        Takes::Value("DIR"),
        "workdir",
        "working directory inside (default: the template's, else /)",
        &CORE,
    ),
    option(
        "--user",
        Takes::Value("UID[:GID]"),
        "user",
        "user to run as: ids, or names from the container's /etc/passwd",
        &CORE,
    ),
    option(
        "--volume",
        Takes::Values("SRC:DST[:ro]"),
        "volumes",
        "bind a host path into the container",
        &CORE,
    ),
    option(
        "--read-only",
        Takes::Switch,
        "read_only",
        "mount the root read-only, with tmpfs on /tmp and /run",
        &CORE,
    ),
    option(
        "--overlay",
        Takes::Value("DIR"),
        "overlay",
        "keep the container's changes in DIR across runs",
        &SQUASHFS,
    ),
    option(
        "--net",
        Takes::Value("MODE"),
        "net",
        "none (loopback only, the default), host, bridge or container:NAME",
        &CORE,
    ),
    option(
        "--ip",
        Takes::Value("ADDR"),
        "ip",
        "address on the bridge (default: the first free one)",
        &BRIDGE,
    ),
    option(
        "--publish",
        Takes::Values("[HOSTIP:]HOSTPORT:PORT[/tcp|udp]"),
        "publish",
        "forward a host port to the container's (needs --net bridge)",
        &BRIDGE,
    ),
    option(
        "--dns",
        Takes::Values("ADDR"),
        "dns",
        "name server for /etc/resolv.conf, instead of the host's",
        &CORE,
    ),
    option(
        "--device",
        Takes::Values("HOST[:CONTAINER][:PERMS]"),
        "devices",
        "give the container a host device node",
        &CORE,
    ),
    option(
        "--cap-add",
        Takes::Values("CAP"),
        "cap_add",
        "give the container a capability (docker's names, or ALL)",
        &CORE,
    ),
    option(
        "--cap-drop",
        Takes::Values("CAP"),
        "cap_drop",
        "take a capability from the default set (or ALL)",
        &CORE,
    ),
    option(
        "--seccomp",
        Takes::Value("default|unconfined"),
        "seccomp",
        "the syscall filter: docker's default policy (the default) or none",
        &SECCOMP,
    ),
    option(
        "--no-pivot",
        Takes::Switch,
        "no_pivot",
        "switch root with chroot instead of pivot_root (as on an initramfs)",
        &CORE,
    ),
];

/// Run options as given, on the command line or in a config: strings and switches,
/// checked only by `build`.
#[derive(Default, Clone)]
pub struct Options {
    /// Each option given, in order, with its value ("" for a switch).
    pub given: Vec<(&'static Flag, String)>,
    pub rootfs: String,
    pub command: Vec<String>,
}

impl Options {
    pub fn value(&self, long: &str) -> Option<&str> {
        self.given
            .iter()
            .find(|(f, _)| f.long == long)
            .map(|(_, v)| v.as_str())
    }

    pub fn values(&self, long: &str) -> Vec<String> {
        self.given
            .iter()
            .filter(|(f, _)| f.long == long)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn switch(&self, long: &str) -> bool {
        self.given.iter().any(|(f, _)| f.long == long)
    }
}
