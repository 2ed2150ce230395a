//! Container configs: CONFIG_DIR/NAME.json (/etc/qing by default), one per named
//! container. A config holds every `qing run` option and how the container is kept:
//! its restart policy, its log, whether it starts at boot. It is read strictly: an
//! unknown key or a wrong type is an error that names the file, the key and what was
//! expected, and the values go through the same checks as the command line's.

use crate::error::{Context, Error, Result};
use crate::json::{self, Doc};
use crate::spec::{self, Options, Spec};
use miniserde::json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Configs are small; anything larger is not one.
const MAX_CONFIG_BYTES: u64 = 64 * 1024;
/// Boards write logs to flash: a small cap, one rotation.
pub const DEFAULT_LOG_SIZE: u64 = 256 * 1024;
const MIN_LOG_SIZE: u64 = 4 * 1024;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Restart {
    No,
    /// Restarted when it exits with a status other than 0 (a signal counts), at most
    /// `max` times in a row when given.
    OnFailure {
        max: Option<u32>,
    },
    Always,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub name: String,
    pub options: Options,
    pub restart: Restart,
    /// Cap of the log file; the log keeps one rotated file beside it.
    pub log_size: u64,
    /// The log goes to syslog instead of a file.
    pub syslog: bool,
    pub autostart: bool,
    /// Order of `qing start --all`: lower first, then by name.
    pub order: u64,
}

/// Each config key and the command-line flag its value is checked as.
const KEYS: [(&str, &str); 22] = [
    ("rootfs", "ROOTFS"),
    ("command", "CMD"),
    ("env", "--env"),
    ("workdir", "--workdir"),
    ("user", "--user"),
    ("hostname", "--hostname"),
    ("memory", "--memory"),
    ("cpus", "--cpus"),
    ("pids", "--pids"),
    ("volumes", "--volume"),
    ("read_only", "--read-only"),
    ("overlay", "--overlay"),
    ("net", "--net"),
    ("ip", "--ip"),
    ("publish", "--publish"),
    ("dns", "--dns"),
    ("no_pivot", "--no-pivot"),
    ("restart", "--restart"),
    ("log", "--log"),
    ("log_size", "--log-size"),
    ("autostart", "--autostart"),
    ("order", "--order"),
];

pub fn path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.json"))
}

/// Reads and checks the config of `name`; `Ok(None)` when there is none.
pub fn read(dir: &Path, name: &str) -> Result<Option<Config>> {
    spec::validate_name(name)?;
    let path = path(dir, name);
    if !path.exists() {
        return Ok(None);
    }
    let doc = json::read_object(&path, MAX_CONFIG_BYTES, "config")?;
    let keys: Vec<&str> = KEYS.iter().map(|(k, _)| *k).collect();
    doc.only_keys(&keys)?;
    let config = from_doc(name, &doc).map_err(|e| relabel(e, &path))?;
    // Everything a start would check, checked now: a bad value is the config's error.
    config.spec().map_err(|e| relabel(e, &path))?;
    Ok(Some(config))
}

fn from_doc(name: &str, doc: &Doc) -> Result<Config> {
    let rootfs = doc.string("rootfs")?.ok_or_else(|| {
        Error::new(format!("{}: no \"rootfs\"", doc.path.display()))
            .hint("give the template name, directory, image or manifest to run")
    })?;
    let options = Options {
        memory: doc.text("memory")?,
        cpus: doc.text("cpus")?,
        pids: doc.text("pids")?,
        hostname: doc.string("hostname")?,
        env: doc.strings("env")?.unwrap_or_default(),
        workdir: doc.string("workdir")?,
        user: doc.text("user")?,
        volumes: doc.strings("volumes")?.unwrap_or_default(),
        read_only: doc.boolean("read_only")?.unwrap_or(false),
        overlay: doc.string("overlay")?,
        net: doc.string("net")?,
        ip: doc.string("ip")?,
        publish: doc.strings("publish")?.unwrap_or_default(),
        dns: doc.strings("dns")?.unwrap_or_default(),
        no_pivot: doc.boolean("no_pivot")?.unwrap_or(false),
        rootfs,
        command: doc.strings("command")?.unwrap_or_default(),
    };
    Ok(Config {
        name: name.to_string(),
        options,
        restart: parse_restart(doc.string("restart")?.as_deref().unwrap_or("no"))?,
        log_size: parse_log_size(doc.text("log_size")?.as_deref())?,
        syslog: parse_log(doc.string("log")?.as_deref().unwrap_or("file"))?,
        autostart: doc.boolean("autostart")?.unwrap_or(false),
        order: parse_order(doc.text("order")?.as_deref())?,
    })
}

/// A message about a flag (`--memory "12x": not a size`) told about the config key.
fn relabel(e: Error, path: &Path) -> Error {
    let text = e.what().to_string();
    for (key, flag) in KEYS {
        if let Some(rest) = text.strip_prefix(flag) {
            return e.reword(format!("{}: key \"{key}\"{rest}", path.display()));
        }
    }
    if text.starts_with(&path.display().to_string()) {
        return e;
    }
    e.reword(format!("{}: {text}", path.display()))
}

impl Config {
    pub fn spec(&self) -> Result<Spec> {
        spec::build(
            self.name.clone(),
            &self.options,
            |k| std::env::var(k).ok(),
            crate::sys::online_cpus(),
        )
    }

    /// The config as a JSON object, one key per line, defaults left out.
    pub fn to_json(&self) -> String {
        let o = &self.options;
        let strings = |v: &[String]| Value::Array(v.iter().map(|s| json::string(s)).collect());
        let mut fields: Vec<(&str, Value)> = vec![("rootfs", json::string(&o.rootfs))];
        let optional = [
            ("workdir", &o.workdir),
            ("user", &o.user),
            ("hostname", &o.hostname),
            ("memory", &o.memory),
            ("cpus", &o.cpus),
            ("pids", &o.pids),
            ("overlay", &o.overlay),
            ("net", &o.net),
            ("ip", &o.ip),
        ];
        for (key, value) in optional {
            if let Some(v) = value {
                fields.push((key, json::string(v)));
            }
        }
        for (key, list) in [
            ("command", &o.command),
            ("env", &o.env),
            ("volumes", &o.volumes),
            ("publish", &o.publish),
            ("dns", &o.dns),
        ] {
            if !list.is_empty() {
                fields.push((key, strings(list)));
            }
        }
        for (key, on) in [
            ("read_only", o.read_only),
            ("no_pivot", o.no_pivot),
            ("autostart", self.autostart),
        ] {
            if on {
                fields.push((key, Value::Bool(true)));
            }
        }
        if self.restart != Restart::No {
            fields.push(("restart", json::string(&format_restart(self.restart))));
        }
        if self.log_size != DEFAULT_LOG_SIZE {
            fields.push(("log_size", json::string(&spec::format_size(self.log_size))));
        }
        if self.syslog {
            fields.push(("log", json::string("syslog")));
        }
        if self.order != 0 {
            fields.push(("order", json::number(self.order)));
        }
        let lines: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("  \"{k}\": {}", json::to_string(v)))
            .collect();
        format!("{{\n{}\n}}\n", lines.join(",\n"))
    }

    /// Writes the config as a new file: atomically, and never over an existing one.
    pub fn create(&self, dir: &Path) -> Result<PathBuf> {
        crate::state::private_dir(dir)?;
        let path = path(dir, &self.name);
        let temp = dir.join(format!(".{}.json.{}", self.name, std::process::id()));
        // Root's alone: a config may hold secrets (--env API_KEY=...).
        let written = crate::state::private_file()
            .truncate(true)
            .open(&temp)
            .and_then(|mut f| {
                f.write_all(self.to_json().as_bytes())?;
                f.sync_all()
            })
            .context(|| format!("write {}", temp.display()));
        // link(2) fails if the name exists: two creates of one name, one wins.
        let linked = written.and_then(|()| match std::fs::hard_link(&temp, &path) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(Error::new(format!(
                "a container named {:?} exists already ({})",
                self.name,
                path.display()
            ))
            .hint("choose another name, or `qing rm` that one first")),
            other => other.context(|| format!("create {}", path.display())),
        });
        let _ = std::fs::remove_file(&temp);
        linked.map(|()| path)
    }
}

pub fn parse_restart(s: &str) -> Result<Restart> {
    let bad = || {
        Error::new(format!("--restart {s:?}: not a restart policy"))
            .hint("use no, always, on-failure or on-failure:MAX (MAX from 1 to 10000)")
    };
    match s.split_once(':') {
        None if s == "no" => Ok(Restart::No),
        None if s == "always" => Ok(Restart::Always),
        None if s == "on-failure" => Ok(Restart::OnFailure { max: None }),
        Some(("on-failure", n)) if n.bytes().all(|b| b.is_ascii_digit()) => match n.parse() {
            Ok(max @ 1..=10_000) => Ok(Restart::OnFailure { max: Some(max) }),
            _ => Err(bad()),
        },
        _ => Err(bad()),
    }
}

pub fn format_restart(r: Restart) -> String {
    match r {
        Restart::No => "no".into(),
        Restart::Always => "always".into(),
        Restart::OnFailure { max: None } => "on-failure".into(),
        Restart::OnFailure { max: Some(n) } => format!("on-failure:{n}"),
    }
}

pub fn parse_log_size(s: Option<&str>) -> Result<u64> {
    let Some(s) = s else {
        return Ok(DEFAULT_LOG_SIZE);
    };
    let bytes = spec::parse_size("--log-size", s)?;
    if bytes < MIN_LOG_SIZE {
        return Err(
            Error::new(format!("--log-size {s}: below the smallest log, 4k"))
                .hint("give 4k or more, like 256k"),
        );
    }
    Ok(bytes)
}

/// `file` (the default) or `syslog`; true for syslog.
pub fn parse_log(s: &str) -> Result<bool> {
    match s {
        "file" => Ok(false),
        "syslog" => Ok(true),
        _ => Err(Error::new(format!("--log {s:?}: unknown log target")).hint("use file or syslog")),
    }
}

pub fn parse_order(s: Option<&str>) -> Result<u64> {
    match s {
        None => Ok(0),
        Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => n
            .parse()
            .map_err(|_| Error::new(format!("--order {n}: too large"))),
        Some(n) => Err(Error::new(format!("--order {n:?}: not a whole number"))
            .hint("give 0 or more; lower starts first")),
    }
}

/// Every config in `dir`, by name; a file that is not a valid config is reported.
pub fn all(dir: &Path) -> Vec<(String, Result<Config>)> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".json")
                .map(str::to_string)
        })
        .filter(|n| spec::validate_name(n).is_ok())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let c = read(dir, &n).and_then(|c| c.ok_or_else(|| Error::new("vanished")));
            (n, c)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies_parse_and_print_back() {
        for s in [
            "no",
            "always",
            "on-failure",
            "on-failure:3",
            "on-failure:10000",
        ] {
            assert_eq!(format_restart(parse_restart(s).unwrap()), s);
        }
        for bad in [
            "",
            "yes",
            "on-failure:",
            "on-failure:0",
            "on-failure:-1",
            "on-failure:x",
            "always:2",
            "on-failure:10001",
        ] {
            assert!(parse_restart(bad).is_err(), "{bad} should be rejected");
        }
    }

    fn doc(text: &str) -> Doc {
        json::parse_object(text, Path::new("/etc/qing/web.json"), "config").unwrap()
    }

    #[test]
    fn configs_name_the_file_and_key_of_a_bad_value() {
        let d = doc(r#"{"rootfs": "/srv/r", "memory": "12x"}"#);
        let e = from_doc("web", &d)
            .and_then(|c| c.spec())
            .map_err(|e| relabel(e, &d.path));
        let msg = e.err().unwrap().to_string();
        assert!(
            msg.starts_with("/etc/qing/web.json: key \"memory\""),
            "{msg}"
        );
        let d = doc(r#"{"rootfs": "/srv/r", "pids": true}"#);
        let msg = from_doc("web", &d).err().unwrap().to_string();
        assert!(
            msg.contains("\"pids\"") && msg.contains("a string or a number"),
            "{msg}"
        );
        let d = doc(r#"{"rootfs": "/srv/r", "memroy": "1g"}"#);
        let msg = d
            .only_keys(&KEYS.map(|(k, _)| k))
            .err()
            .unwrap()
            .to_string();
        assert!(
            msg.contains("unknown key \"memroy\"") && msg.contains("memory"),
            "{msg}"
        );
    }

    #[test]
    fn a_config_written_reads_back_the_same() {
        let d = doc(
            r#"{"rootfs": "python", "memory": 67108864, "cpus": 0.5, "env": ["A=1"],
                "volumes": ["/srv:/data:ro"], "read_only": true, "restart": "on-failure:2",
                "log_size": "64k", "autostart": true, "order": 3, "command": ["/bin/sh", "-c", "x \"y\""]}"#,
        );
        let c = from_doc("web", &d).unwrap();
        assert_eq!(c.options.memory.as_deref(), Some("67108864"));
        assert_eq!(c.options.cpus.as_deref(), Some("0.5"));
        let again = from_doc("web", &doc(&c.to_json())).unwrap();
        assert_eq!(again.to_json(), c.to_json());
        assert_eq!(again.restart, Restart::OnFailure { max: Some(2) });
        assert_eq!(
            (again.log_size, again.autostart, again.order),
            (64 * 1024, true, 3)
        );
    }
}
