//! The command line: argv to one of qing's commands. Every command and option is a
//! row in a table (`COMMANDS`, `spec::options::RUN`, `config::KEEP`), parsed by
//! `parse`. Values arrive as strings and are checked by `spec` and `config`, so every
//! bad value gets qing's own message and exit 125.

pub mod parse;

use crate::config::{self, Config};
use crate::error::{Context, Error, Result, EXIT_QING_FAILED};
use crate::features::{self, Feature, BRIDGE, CORE, EXEC, NAMED, SQUASHFS, TTY};
use crate::lifecycle;
use crate::spec::{self, options::RUN, Options};
use crate::state::Paths;
use crate::template::store::{self, Store};
use parse::{Args, Command, Flag, Positional, Takes, HELP};

/// An option of a command alone: no config key.
const fn flag(
    long: &'static str,
    takes: Takes,
    help: &'static str,
    feature: &'static Feature,
) -> Flag {
    crate::flag::option(long, takes, "", help, feature)
}

const fn positional(name: &'static str, what: &'static str, required: bool) -> Positional {
    Positional {
        name,
        what,
        required,
        rest: false,
    }
}

const fn rest(name: &'static str, what: &'static str, required: bool) -> Positional {
    Positional {
        name,
        what,
        required,
        rest: true,
    }
}

/// A command of the table. One of a feature left out keeps only its name, for the
/// "built without" message: its help and options stay out of the binary.
const fn command(
    name: &'static str,
    feature: &'static Feature,
    about: &'static str,
    flags: &'static [&'static [Flag]],
    positionals: &'static [Positional],
) -> Command {
    if feature.built {
        Command {
            name,
            about,
            flags,
            positionals,
            feature,
        }
    } else {
        Command {
            name,
            about: "",
            flags: &[],
            positionals: &[],
            feature,
        }
    }
}

const TTY_FLAG: Flag = Flag {
    long: "--tty",
    short: "-t",
    takes: Takes::Switch,
    help: "give the command a terminal, relayed to this one in raw mode",
    key: "",
    feature: &TTY,
};

/// qing's own options, before the command.
static GLOBAL: [Flag; 3] = [
    flag("--root", Takes::Value("DIR"), "keep qing's state under DIR (run, lib, etc, log) instead of /run/qing, /var/lib/qing, /etc/qing, /var/log/qing", &CORE),
    flag("--config-dir", Takes::Value("DIR"), "directory of container configs, NAME.json (default: /etc/qing)", &NAMED),
    flag("--debug", Takes::Switch, "print each step of a start or an exec to stderr, with microseconds since qing started", &features::DEBUG),
];
static QING: Command = Command {
    name: "",
    about: "qing: an ultra-light container manager for embedded Linux boards.",
    flags: &[&GLOBAL],
    // The command starts the rest: after it, every word is the command's.
    positionals: &[rest("COMMAND [ARGS]", "a command", true)],
    feature: &CORE,
};

static RUN_OWN: [Flag; 2] = [
    flag(
        "--name",
        Takes::Value("NAME"),
        "container name (default: generated)",
        &CORE,
    ),
    TTY_FLAG,
];
static NAME: [Positional; 1] = [positional("NAME", "a container name", true)];
static NAME_OR_ALL: [Positional; 1] = [positional("NAME", "a container name", false)];
static TIME: [Flag; 1] = [flag(
    "--time",
    Takes::Value("SECONDS"),
    "seconds between SIGTERM and SIGKILL (default 10)",
    &CORE,
)];
static STOP: [Flag; 1] = [flag(
    "--all",
    Takes::Switch,
    "every running container that has a config, last started first",
    &CORE,
)];
static JSON: [Flag; 1] = [flag(
    "--json",
    Takes::Switch,
    "print JSON for scripts",
    &CORE,
)];
static START: [Flag; 2] = [
    flag(
        "--foreground",
        Takes::Switch,
        "stay attached as the supervisor, for procd, systemd or runit",
        &CORE,
    ),
    flag(
        "--all",
        Takes::Switch,
        "start every config marked autostart, in its order",
        &CORE,
    ),
];
static STATUS: [Flag; 1] = [flag(
    "--all",
    Takes::Switch,
    "every autostart container: 0 only when all of them run",
    &CORE,
)];
static LOGS: [Flag; 2] = [
    flag(
        "--follow",
        Takes::Switch,
        "keep printing what is added",
        &CORE,
    ),
    flag("--tail", Takes::Value("N"), "only the last N lines", &CORE),
];
static EXEC_FLAGS: [Flag; 4] = [
    TTY_FLAG,
    flag(
        "--env",
        Takes::Values("KEY=VALUE"),
        "environment entry, over the container's",
        &CORE,
    ),
    flag(
        "--user",
        Takes::Value("UID[:GID]"),
        "user to run as (default: the container command's)",
        &CORE,
    ),
    flag(
        "--workdir",
        Takes::Value("DIR"),
        "working directory (default: the container command's)",
        &CORE,
    ),
];
static NET: [Flag; 1] = [flag(
    "--nat",
    Takes::Switch,
    "with up: masquerade the bridge's traffic out of the host now, whatever its settings say (until net down)",
    &CORE,
)];
static TEMPLATES: [Flag; 1] = [flag(
    "--verify",
    Takes::Switch,
    "hash every image now (exit status 1 if any is corrupt)",
    &CORE,
)];

static CHECK: [Flag; 1] = [flag(
    "--kconfig",
    Takes::Switch,
    "print the kernel options this build of qing uses, as a kernel config fragment",
    &CORE,
)];

/// Every command, as `qing --help` lists them.
#[rustfmt::skip]
static COMMANDS: [Command; 17] = [
    command("run", &CORE, concat!(
        "run a command in a new container and wait for it\n\n",
        "ROOTFS is an installed template's name, a directory, a .squashfs image or a\n",
        "template manifest (.json); CMD is the template's command when not given, else\n",
        "/bin/sh."),
        &[&RUN_OWN, &RUN], &[positional("ROOTFS", "a rootfs", true), rest("CMD", "a command", false)]),
    command("create", &NAMED,
        "write a named container's config, CONFIG_DIR/NAME.json: run's options and how it is kept",
        &[&config::KEEP, &RUN], &[
            positional("NAME", "a container name", true),
            positional("ROOTFS", "a rootfs", true),
            rest("CMD", "a command", false),
        ]),
    command("start", &NAMED, "start a named container under a supervisor; returns once it runs",
        &[&START], &NAME_OR_ALL),
    command("stop", &NAMED, "stop a named container: SIGTERM, then SIGKILL after --time seconds",
        &[&TIME, &STOP], &NAME_OR_ALL),
    command("restart", &NAMED, "stop a named container, then start it", &[&TIME], &NAME),
    command("status", &NAMED,
        "print a container's state; exit 0 running, 3 stopped, 4 unknown (as LSB init scripts)",
        &[&STATUS], &NAME_OR_ALL),
    command("list", &NAMED, "list containers: name, state, pid, uptime, memory, rootfs",
        &[&JSON], &[]),
    command("logs", &NAMED, "print a named container's log", &[&LOGS], &NAME),
    command("stats", &NAMED,
        "memory, CPU time and processes of a running container, from its cgroups",
        &[&JSON], &NAME),
    command("rm", &NAMED, "remove a stopped container's config, record and log", &[], &NAME),
    command("exec", &EXEC,
        "run a command in a running container: its namespaces, cgroups, user and limits",
        &[&EXEC_FLAGS], &[positional("NAME", "a container name", true), rest("CMD", "a command", true)]),
    command("net", &BRIDGE,
        "the bridge: its subnet and the containers' addresses; `net up` makes it, `net down` removes it",
        &[&JSON, &NET], &[positional("up|down", "an action", false)]),
    command("templates", &SQUASHFS,
        "list installed templates: name, architecture, size, verified or not",
        &[&JSON, &TEMPLATES], &[]),
    command("import", &SQUASHFS,
        "install a built template (NAME.json with NAME.squashfs beside it), checking its sha256",
        &[], &[positional("NAME.json", "a template manifest", true)]),
    command("check", &CORE, "report which kernel features qing needs are present", &[&CHECK], &[]),
    command("version", &CORE, "print qing's version and the features built in", &[], &[]),
    command("help", &CORE, "print the usage of qing, or of a command", &[],
        &[positional("COMMAND", "a command", false)]),
];

/// Runs qing on argv and returns the process's exit status.
pub fn main(args: Vec<std::ffi::OsString>) -> i32 {
    let strings: Option<Vec<String>> = args.into_iter().map(|a| a.into_string().ok()).collect();
    let Some(strings) = strings else {
        crate::error::say!("qing: an argument is not valid UTF-8");
        return EXIT_QING_FAILED;
    };
    let argv: Vec<&str> = strings.iter().skip(1).map(String::as_str).collect();
    match run(&argv) {
        Ok(code) => code,
        Err(e) if e.what() == HELP => 0,
        Err(e) => {
            crate::error::say!("qing: {e}");
            e.exit_code()
        }
    }
}

fn run(argv: &[&str]) -> Result<i32> {
    let global = parse::parse(&QING, argv).map_err(|e| help_or(e, &QING))?;
    let (name, argv) = global
        .rest
        .split_first()
        .ok_or_else(|| Error::new("qing needs a command").hint("`qing help` lists them"))?;
    let cmd = find(name)?;
    cmd.feature.need(&format!("qing {name}"))?;
    if global.switch("--debug") {
        crate::debug::start();
    }
    let a = parse::parse(cmd, argv).map_err(|e| help_or(e, cmd))?;
    let root = global.value("--root");
    let paths = || Paths::new(root, global.value("--config-dir"));
    // The table refused a command whose feature is not built; each arm also asks its
    // feature's constant, so that such a build carries none of the command's code.
    match cmd.name {
        "run" => {
            let name = match a.value("--name") {
                Some(n) => n.to_string(),
                None => generated_name()?,
            };
            let spec = spec::build(
                name,
                &options(&a, 0),
                |k| std::env::var(k).ok(),
                crate::sys::online_cpus(),
            )?;
            crate::launch::run(&spec, &paths()?, a.switch("--tty"))
        }
        "create" if NAMED.built => {
            let config = Config::new(name_of(&a).to_string(), options(&a, 1))?;
            lifecycle::create(&paths()?, &config)
        }
        "rm" if NAMED.built => lifecycle::rm(&paths()?, name_of(&a)),
        "start" if NAMED.built => match one_or_all(&a)? {
            None => lifecycle::start_all(&paths()?),
            Some(name) => lifecycle::start(&paths()?, name, a.switch("--foreground")),
        },
        "stop" if NAMED.built => {
            let grace = seconds(a.value("--time"))?;
            match one_or_all(&a)? {
                None => lifecycle::stop_all(&paths()?, grace),
                Some(name) => lifecycle::stop(&paths()?, name, grace),
            }
        }
        "restart" if NAMED.built => {
            lifecycle::restart(&paths()?, name_of(&a), seconds(a.value("--time"))?)
        }
        "status" if NAMED.built => Ok(match one_or_all(&a)? {
            None => lifecycle::status_all(&paths()?),
            Some(name) => lifecycle::status(&paths()?, name),
        }),
        "list" if NAMED.built => lifecycle::list(&paths()?, a.switch("--json")),
        "logs" if NAMED.built => lifecycle::logs(
            &paths()?,
            name_of(&a),
            tail_lines(a.value("--tail"))?,
            a.switch("--follow"),
        ),
        "stats" if NAMED.built => lifecycle::stats(&paths()?, name_of(&a), a.switch("--json")),
        "exec" if EXEC.built => crate::exec::exec(&crate::exec::Request {
            name: name_of(&a).to_string(),
            command: a.rest.iter().map(|s| s.to_string()).collect(),
            env: a.values("--env").iter().map(|s| s.to_string()).collect(),
            user: a.value("--user").map(str::to_string),
            workdir: a.value("--workdir").map(str::to_string),
            tty: a.switch("--tty"),
        }),
        "net" if BRIDGE.built => {
            let p = paths()?;
            match a.positional(0) {
                _ if a.switch("--nat") && a.positional(0) != Some("up") => {
                    Err(Error::new("--nat is for qing net up").hint("qing net up --nat"))
                }
                None | Some("show") => crate::net::show(&p.config, &p.run, a.switch("--json")),
                Some("up") => crate::net::up(&p.config, &p.run, a.switch("--nat")),
                Some("down") => crate::net::down(&p.config, &p.run),
                Some(other) => Err(Error::new(format!(
                    "qing net {other_q}: no such action",
                    other_q = crate::error::quoted(other)
                ))
                .hint("qing net shows the bridge; qing net up makes it; qing net down removes it")),
            }
        }
        "templates" if SQUASHFS.built => Ok(store::list(
            &Store::new(&paths()?.data),
            a.switch("--json"),
            a.switch("--verify"),
        )),
        "import" if SQUASHFS.built => store::import(&Store::new(&paths()?.data), name_of(&a)),
        "check" if a.switch("--kconfig") => Ok(crate::kernel::print_fragment()),
        "check" => Ok(crate::check::report()),
        "version" => {
            crate::error::out!(
                "qing {} ({})",
                env!("CARGO_PKG_VERSION"),
                std::env::consts::ARCH
            );
            crate::error::out!("features: {}", features::built());
            Ok(0)
        }
        _ => {
            match a.positional(0) {
                Some(name) => out(&parse::help(find(name)?)),
                None => out(&overview()),
            }
            Ok(0)
        }
    }
}

/// `--help` prints the help of `cmd` and ends qing with 0; any other error stays.
fn help_or(e: Error, cmd: &Command) -> Error {
    if e.what() == HELP {
        out(&if cmd.name.is_empty() {
            overview()
        } else {
            parse::help(cmd)
        });
    }
    e
}

/// Help text to stdout, as it is (it ends in a newline of its own).
fn out(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().write_all(text.as_bytes());
}

/// `qing --help`: the global options and every command this build has.
fn overview() -> String {
    let mut text = parse::help(&QING);
    text.push_str("\nCommands:\n");
    for c in COMMANDS.iter().filter(|c| c.feature.built) {
        text.push_str(&format!(
            "  {:<22}  {}\n",
            c.name,
            c.about.lines().next().unwrap_or_default()
        ));
    }
    text.push_str("\n`qing help COMMAND` or `qing COMMAND --help` tells more.\n");
    text
}

pub(crate) fn find(name: &str) -> Result<&'static Command> {
    COMMANDS.iter().find(|c| c.name == name).ok_or_else(|| {
        Error::new(format!("qing {name}: no such command")).hint("`qing help` lists the commands")
    })
}

/// The run options of a `run` or `create` command line; ROOTFS is the positional
/// at `rootfs_at`.
pub(crate) fn options(a: &Args, rootfs_at: usize) -> Options {
    Options {
        given: a
            .given
            .iter()
            .filter(|(f, _)| !f.key.is_empty())
            .map(|(f, v)| (*f, v.to_string()))
            .collect(),
        rootfs: a.positional(rootfs_at).unwrap_or_default().to_string(),
        command: a.rest.iter().map(|s| s.to_string()).collect(),
    }
}

fn name_of<'a>(a: &Args<'a>) -> &'a str {
    a.positional(0).unwrap_or_default()
}

/// A command's NAME, or `None` for --all; exactly one of the two.
fn one_or_all<'a>(a: &Args<'a>) -> Result<Option<&'a str>> {
    match (a.positional(0), a.switch("--all")) {
        (Some(name), false) => Ok(Some(name)),
        (None, true) => Ok(None),
        _ => Err(Error::new("give a NAME, or --all").hint("qing stop NAME, or qing stop --all")),
    }
}

/// `--time`: whole seconds, 10 when not given.
fn seconds(s: Option<&str>) -> Result<std::time::Duration> {
    match s {
        None => Ok(std::time::Duration::from_secs(10)),
        Some(t) => match t.parse::<u64>() {
            Ok(n) if n <= 86_400 && t.bytes().all(|b| b.is_ascii_digit()) => {
                Ok(std::time::Duration::from_secs(n))
            }
            _ => Err(Error::new(format!(
                "--time {t_q}: not a number of seconds",
                t_q = crate::error::quoted(t)
            ))
            .hint("give whole seconds, up to 86400, like --time 10")),
        },
    }
}

fn tail_lines(s: Option<&str>) -> Result<Option<usize>> {
    s.map(|t| {
        t.parse::<usize>()
            .ok()
            .filter(|_| t.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                Error::new(format!(
                    "--tail {t_q}: not a number of lines",
                    t_q = crate::error::quoted(t)
                ))
                .hint("give a whole number, like --tail 50")
            })
    })
    .transpose()
}

/// `qing-` and 8 hex digits from the kernel's random pool.
fn generated_name() -> Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 4];
    crate::sys::open_file(
        std::path::Path::new("/dev/urandom"),
        nix::fcntl::OFlag::O_RDONLY,
        0,
    )
    .and_then(|mut f| f.read_exact(&mut bytes))
    .ctx("read /dev/urandom for a container name")
    .map_err(|e| e.hint("give --name"))?;
    Ok(format!("qing-{:08x}", u32::from_be_bytes(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_of_every_command_is_unique_and_spelled_alike() {
        for cmd in COMMANDS.iter().chain([&QING]) {
            let flags: Vec<&Flag> = cmd.flags.iter().flat_map(|t| t.iter()).collect();
            for (i, f) in flags.iter().enumerate() {
                assert!(
                    f.long.starts_with("--") && !f.help.is_empty(),
                    "qing {} {}",
                    cmd.name,
                    f.long
                );
                assert!(
                    flags.iter().skip(i + 1).all(|g| g.long != f.long),
                    "qing {} has {} twice",
                    cmd.name,
                    f.long
                );
            }
        }
        let keys: Vec<&str> = RUN
            .iter()
            .chain(config::KEEP.iter())
            .map(|f| f.key)
            .collect();
        for (i, k) in keys.iter().enumerate() {
            assert!(
                !k.is_empty() && !keys[i + 1..].contains(k),
                "config key {k:?}"
            );
        }
    }

    #[test]
    fn create_takes_its_own_options_and_runs_anywhere_before_the_command() {
        let cmd = find("create").unwrap();
        let argv = [
            "--restart",
            "always",
            "web",
            "--memory",
            "8m",
            "--autostart",
            "busybox",
            "--log",
            "syslog",
            "httpd",
            "--restart",
            "x",
        ];
        let a = parse::parse(cmd, &argv).map_err(|e| e.to_string()).unwrap();
        let c = Config::new(name_of(&a).to_string(), options(&a, 1))
            .map_err(|e| e.to_string())
            .unwrap();
        assert_eq!(c.name, "web");
        assert_eq!(c.restart, config::Restart::Always);
        assert!(c.autostart && c.syslog);
        assert_eq!(c.options.value("--memory"), Some("8m"));
        assert_eq!(c.options.rootfs, "busybox");
        assert_eq!(c.options.command, ["httpd", "--restart", "x"]);
        let a = parse::parse(
            cmd,
            &["--hostname", "h", "--", "web", "busybox", "--memory"],
        )
        .map_err(|e| e.to_string())
        .unwrap();
        let o = options(&a, 1);
        assert_eq!((name_of(&a), o.value("--hostname")), ("web", Some("h")));
        assert_eq!(
            (o.rootfs.as_str(), o.command.as_slice()),
            ("busybox", &["--memory".to_string()][..])
        );
    }
}
