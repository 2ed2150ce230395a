//! The command line: argv to one of qing's commands. Options arrive as strings and
//! are validated by `spec`, so every bad value gets qing's own message and exit 125.

use crate::config::{self, Config};
use crate::error::{Error, Result, EXIT_QING_FAILED};
use crate::lifecycle;
use crate::spec::{self, Spec};
use crate::state::Paths;
use crate::template::store::{self, Store};
use argh::FromArgs;
use args::{Command, Qing, RunArgs};
use create::CreateArgs;

mod args;
mod create;

/// Runs qing on argv and returns the process's exit status.
pub fn main(args: Vec<std::ffi::OsString>) -> i32 {
    let strings: Option<Vec<String>> = args.into_iter().map(|a| a.into_string().ok()).collect();
    let Some(strings) = strings else {
        eprintln!("qing: an argument is not valid UTF-8");
        return EXIT_QING_FAILED;
    };
    let argv: Vec<&str> = strings.iter().map(String::as_str).collect();
    let Some((cmd, rest)) = argv.split_first() else {
        return EXIT_QING_FAILED;
    };
    // argh parses everything up to the command; `create` parses the rest itself.
    let (upto, create_args) = match create_position(rest) {
        Some(at) => (&rest[..=at], Some(&rest[at + 1..])),
        None => (rest, None),
    };
    let parsed = Qing::from_args(&[cmd], upto).and_then(|qing| match create_args {
        Some(args) => create::parse(args).map(|c| (qing, Some(c))),
        None => Ok((qing, None)),
    });
    let (qing, create) = match parsed {
        Ok(q) => q,
        Err(early) => {
            return if early.status.is_ok() {
                print!("{}", early.output);
                0
            } else {
                eprint!("qing: {}", early.output);
                eprintln!("  hint: run `qing help` or `qing run --help` for usage");
                EXIT_QING_FAILED
            };
        }
    };
    let root = qing.root.as_deref();
    let paths = || Paths::new(root, qing.config_dir.as_deref());
    let result = match qing.command {
        Command::Run(args) => {
            let tty = args.tty;
            run_spec(args).and_then(|spec| crate::launch::run(&spec, &paths()?, tty))
        }
        Command::Create(_) => match create {
            Some(args) => {
                create_config(args).and_then(|c| paths().and_then(|p| lifecycle::create(&p, &c)))
            }
            None => Err(
                Error::new("qing create: qing's own options go before create")
                    .hint("qing --root DIR --config-dir DIR create NAME ... ROOTFS"),
            ),
        },
        Command::Rm(a) => paths().and_then(|p| lifecycle::rm(&p, &a.name)),
        Command::Start(a) => paths().and_then(|p| match one_or_all("start", a.name, a.all)? {
            None => lifecycle::start_all(&p),
            Some(name) => lifecycle::start(&p, &name, a.foreground),
        }),
        Command::Stop(a) => seconds(a.time.as_deref()).and_then(|t| {
            paths().and_then(|p| match one_or_all("stop", a.name, a.all)? {
                None => lifecycle::stop_all(&p, t),
                Some(name) => lifecycle::stop(&p, &name, t),
            })
        }),
        Command::Restart(a) => seconds(a.time.as_deref())
            .and_then(|t| paths().and_then(|p| lifecycle::restart(&p, &a.name, t))),
        Command::Status(a) => paths().and_then(|p| {
            Ok(match one_or_all("status", a.name, a.all)? {
                None => lifecycle::status_all(&p),
                Some(name) => lifecycle::status(&p, &name),
            })
        }),
        Command::List(a) => paths().and_then(|p| lifecycle::list(&p, a.json)),
        Command::Logs(a) => tail_lines(a.tail.as_deref())
            .and_then(|n| paths().and_then(|p| lifecycle::logs(&p, &a.name, n, a.follow))),
        Command::Stats(a) => paths().and_then(|p| lifecycle::stats(&p, &a.name, a.json)),
        Command::Exec(a) => crate::exec::exec(&crate::exec::Request {
            name: a.name,
            command: a.command,
            env: a.env,
            user: a.user,
            workdir: a.workdir,
            tty: a.tty,
        }),
        Command::Net(a) => paths().and_then(|p| match a.action.as_deref() {
            _ if a.nat && a.action.as_deref() != Some("up") => {
                Err(Error::new("--nat is for qing net up").hint("qing net up --nat"))
            }
            None | Some("show") => crate::net::show(&p.config, &p.run, a.json),
            Some("up") => crate::net::up(&p.config, &p.run, a.nat),
            Some("down") => crate::net::down(&p.config, &p.run),
            Some(other) => Err(Error::new(format!("qing net {other:?}: no such action"))
                .hint("qing net shows the bridge; qing net down removes it")),
        }),
        Command::Templates(args) => {
            paths().map(|paths| store::list(&Store::new(&paths.data), args.json, args.verify))
        }
        Command::Import(args) => {
            paths().and_then(|paths| store::import(&Store::new(&paths.data), &args.source))
        }
        Command::Check(_) => Ok(crate::check::report()),
        Command::Version(_) => {
            println!(
                "qing {} ({})",
                env!("CARGO_PKG_VERSION"),
                std::env::consts::ARCH
            );
            Ok(0)
        }
    };
    result.unwrap_or_else(|e| {
        eprintln!("qing: {e}");
        e.exit_code()
    })
}

fn run_spec(a: RunArgs) -> Result<Spec> {
    let name = match &a.name {
        Some(n) => n.clone(),
        None => generated_name()?,
    };
    spec::build(
        name,
        &a.options(),
        |k| std::env::var(k).ok(),
        crate::sys::online_cpus(),
    )
}

/// Where `create` stands in argv after qing's own options, if it is the command.
fn create_position(args: &[&str]) -> Option<usize> {
    let mut at = 0;
    while let Some(&arg) = args.get(at) {
        match arg {
            "--root" | "--config-dir" => at += 2,
            "create" => return Some(at),
            _ => return None,
        }
    }
    None
}

fn create_config(a: CreateArgs) -> Result<Config> {
    crate::spec::validate_name(&a.name)?;
    Ok(Config {
        options: a.run.options(),
        restart: config::parse_restart(a.restart.as_deref().unwrap_or("no"))?,
        log_size: config::parse_log_size(a.log_size.as_deref())?,
        syslog: config::parse_log(a.log.as_deref().unwrap_or("file"))?,
        autostart: a.autostart,
        order: config::parse_order(a.order.as_deref())?,
        name: a.name,
    })
}

/// A command's NAME, or `None` for --all; exactly one of the two.
fn one_or_all(command: &str, name: Option<String>, all: bool) -> Result<Option<String>> {
    match (name, all) {
        (Some(name), false) => Ok(Some(name)),
        (None, true) => Ok(None),
        _ => Err(Error::new(format!("qing {command} takes a NAME, or --all"))
            .hint(format!("qing {command} NAME, or qing {command} --all"))),
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
            _ => Err(Error::new(format!("--time {t:?}: not a number of seconds"))
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
                Error::new(format!("--tail {t:?}: not a number of lines"))
                    .hint("give a whole number, like --tail 50")
            })
    })
    .transpose()
}

/// `qing-` and 8 hex digits from the kernel's random pool.
fn generated_name() -> Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 4];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| {
            Error::new(format!("read /dev/urandom for a container name: {e}")).hint("give --name")
        })?;
    Ok(format!("qing-{:08x}", u32::from_be_bytes(bytes)))
}
