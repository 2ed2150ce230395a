//! Container configs: CONFIG_DIR/NAME.json (/etc/qing by default), one per named
//! container. A config holds every `qing run` option and how the container is kept:
//! its restart policy, its log, whether it starts at boot. It is read strictly: an
//! unknown key or a wrong type is an error that names the file, the key and what was
//! expected, and the values go through the same checks as the command line's.

use crate::error::{Context, Error, Result};
use crate::features::NAMED;
use crate::flag::{Flag, Takes};
use crate::json::Value;
use crate::json::{self, Doc};
use crate::spec::{self, options::RUN, Options, Spec};
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

#[derive(Clone)]
pub struct Config {
    pub name: String,
    /// Run options and the options of its own (`KEEP`), as given.
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

const fn keep(long: &'static str, takes: Takes, key: &'static str, help: &'static str) -> Flag {
    crate::flag::option(long, takes, key, help, &NAMED)
}

/// How a named container is kept: `qing create`'s options beside run's, and their
/// config keys.
pub static KEEP: [Flag; 5] = [
    keep(
        "--restart",
        Takes::Value("POLICY"),
        "restart",
        "no (the default), on-failure[:MAX] or always",
    ),
    keep(
        "--log-size",
        Takes::Value("SIZE"),
        "log_size",
        "cap of the log file (default 256k); one rotation is kept",
    ),
    keep(
        "--log",
        Takes::Value("file|syslog"),
        "log",
        "where the log goes (default: file)",
    ),
    keep(
        "--autostart",
        Takes::Switch,
        "autostart",
        "started by `qing start --all`",
    ),
    keep(
        "--order",
        Takes::Value("N"),
        "order",
        "place in `qing start --all`: lower first (default 0)",
    ),
];

/// Every option a config can hold, by key: run's, then its own.
fn keyed() -> impl Iterator<Item = &'static Flag> {
    RUN.iter().chain(KEEP.iter())
}

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
    from_json(name, &doc).map(Some)
}

/// The config of `name` from its JSON object, checked as `read` checks it.
pub fn from_json(name: &str, doc: &Doc) -> Result<Config> {
    let path = &doc.path;
    let mut keys = vec!["rootfs", "command"];
    keys.extend(keyed().map(|f| f.key));
    doc.only_keys(&keys)?;
    let config = from_doc(name, doc).map_err(|e| relabel(e, path))?;
    // Everything a start would check, checked now: a bad value is the config's error.
    config.spec().map_err(|e| relabel(e, path))?;
    Ok(config)
}

fn from_doc(name: &str, doc: &Doc) -> Result<Config> {
    let rootfs = doc.string("rootfs")?.ok_or_else(|| {
        Error::new(format!("{}: no \"rootfs\"", doc.path.display()))
            .hint("give the template name, directory, image or manifest to run")
    })?;
    let mut options = Options {
        rootfs,
        command: doc.strings("command")?.unwrap_or_default(),
        given: Vec::new(),
    };
    for flag in keyed() {
        let values = match flag.takes {
            Takes::Switch => match doc.boolean(flag.key)? {
                Some(true) => vec![String::new()],
                _ => Vec::new(),
            },
            Takes::Value(_) => doc.text(flag.key)?.into_iter().collect(),
            Takes::Values(_) => doc.strings(flag.key)?.unwrap_or_default(),
        };
        if !values.is_empty() {
            flag.feature
                .need(&format!("{}: key \"{}\"", doc.path.display(), flag.key))?;
        }
        options.given.extend(values.into_iter().map(|v| (flag, v)));
    }
    Config::new(name.to_string(), options)
}

/// A message about a flag (`--memory "12x": not a size`) told about the config key.
fn relabel(e: Error, path: &Path) -> Error {
    let text = e.what().to_string();
    for flag in keyed() {
        if let Some(rest) = text.strip_prefix(flag.long) {
            return e.reword(format!("{}: key \"{}\"{rest}", path.display(), flag.key));
        }
    }
    if text.starts_with(&path.display().to_string()) {
        return e;
    }
    e.reword(format!("{}: {text}", path.display()))
}

impl Config {
    /// A container's config from its options as given, checked.
    pub fn new(name: String, options: Options) -> Result<Config> {
        spec::validate_name(&name)?;
        Ok(Config {
            restart: parse_restart(options.value("--restart").unwrap_or("no"))?,
            log_size: parse_log_size(options.value("--log-size"))?,
            syslog: parse_log(options.value("--log").unwrap_or("file"))?,
            autostart: options.switch("--autostart"),
            order: parse_order(options.value("--order"))?,
            name,
            options,
        })
    }

    pub fn spec(&self) -> Result<Spec> {
        spec::build(
            self.name.clone(),
            &self.options,
            |k| std::env::var(k).ok(),
            crate::sys::online_cpus(),
        )
    }

    /// The config as a JSON object, one key per line, in the order of the tables.
    pub fn to_json(&self) -> String {
        let o = &self.options;
        let mut fields: Vec<(&str, Value)> = vec![("rootfs", json::string(&o.rootfs))];
        if !o.command.is_empty() {
            fields.push(("command", strings(&o.command)));
        }
        for flag in keyed() {
            let values = o.values(flag.long);
            let Some(first) = values.first() else {
                continue;
            };
            fields.push((
                flag.key,
                match flag.takes {
                    Takes::Switch => Value::Bool(true),
                    Takes::Value(_) => json::string(first),
                    Takes::Values(_) => strings(&values),
                },
            ));
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
        let written = crate::state::private_file(&temp, nix::fcntl::OFlag::O_TRUNC)
            .and_then(|mut f| {
                f.write_all(self.to_json().as_bytes())?;
                f.sync_all()
            })
            .at("write", &temp);
        // link(2) fails if the name exists: two creates of one name, one wins.
        let linked = written.and_then(|()| match std::fs::hard_link(&temp, &path) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(Error::new(format!(
                "a container named {} exists already ({})",
                crate::error::quoted(&self.name),
                path.display()
            ))
            .hint("choose another name, or `qing rm` that one first")),
            other => other.at("create", &path),
        });
        let _ = std::fs::remove_file(&temp);
        linked.map(|()| path)
    }
}

fn strings(v: &[String]) -> Value {
    Value::Array(v.iter().map(|s| json::string(s)).collect())
}

pub fn parse_restart(s: &str) -> Result<Restart> {
    let bad = || {
        Error::new(format!(
            "--restart {s_q}: not a restart policy",
            s_q = crate::error::quoted(s)
        ))
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
        _ => Err(Error::new(format!(
            "--log {s_q}: unknown log target",
            s_q = crate::error::quoted(s)
        ))
        .hint("use file or syslog")),
    }
}

pub fn parse_order(s: Option<&str>) -> Result<u64> {
    match s {
        None => Ok(0),
        Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => n
            .parse()
            .map_err(|_| Error::new(format!("--order {n}: too large"))),
        Some(n) => Err(Error::new(format!(
            "--order {n_q}: not a whole number",
            n_q = crate::error::quoted(n)
        ))
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
    fn restart_policies_parse() {
        for (s, policy) in [
            ("no", Restart::No),
            ("always", Restart::Always),
            ("on-failure", Restart::OnFailure { max: None }),
            ("on-failure:3", Restart::OnFailure { max: Some(3) }),
            ("on-failure:10000", Restart::OnFailure { max: Some(10_000) }),
        ] {
            assert_eq!(parse_restart(s).unwrap(), policy);
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

    /// What `read` says of a config file holding `text`.
    fn read_text_as_config(text: &str) -> String {
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("qing-config-test-{}-{call}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("web.json"), text).unwrap();
        let said = match read(&dir, "web") {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        };
        std::fs::remove_dir_all(&dir).unwrap();
        said
    }

    #[test]
    fn a_key_of_a_feature_left_out_is_refused_by_name() {
        let said =
            read_text_as_config(r#"{"rootfs": "/srv/r", "net": "bridge", "ip": "10.199.0.9"}"#);
        if crate::features::BRIDGE.built {
            assert_eq!(said, "");
        } else {
            assert!(
                said.contains("key \"ip\": this qing was built without bridge networking"),
                "{said}"
            );
        }
    }

    fn doc(text: &str) -> Doc {
        json::parse_object(text.as_bytes(), Path::new("/etc/qing/web.json"), "config").unwrap()
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
        let msg = read_text_as_config(r#"{"rootfs": "/srv/r", "memroy": "1g"}"#);
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
        assert_eq!(c.options.value("--memory"), Some("67108864"));
        assert_eq!(c.options.value("--cpus"), Some("0.5"));
        let again = from_doc("web", &doc(&c.to_json())).unwrap();
        assert_eq!(again.to_json(), c.to_json());
        assert_eq!(again.restart, Restart::OnFailure { max: Some(2) });
        assert_eq!(
            (again.log_size, again.autostart, again.order),
            (64 * 1024, true, 3)
        );
    }
}
