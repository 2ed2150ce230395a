//! `qing create NAME [OPTIONS] ROOTFS [COMMAND...]`: a few options of its own, then
//! everything `qing run` takes. argh cannot share one option list between two
//! commands, and a second generated copy of run's parser cost 3 KB of the binary, so
//! create's own options and NAME are taken out here and the rest is parsed as run's.

use super::args::RunArgs;
use argh::{EarlyExit, FromArgs};

/// What `qing create` was given: its own options, and run's.
pub struct CreateArgs {
    pub name: String,
    pub restart: Option<String>,
    pub log_size: Option<String>,
    pub log: Option<String>,
    pub autostart: bool,
    pub order: Option<String>,
    pub run: RunArgs,
}

/// run's options that take a value: the scan must not take a value for a positional.
/// A test checks this list against the usage line argh writes for `qing run`.
const RUN_VALUED: [&str; 14] = [
    "--name",
    "--memory",
    "--cpus",
    "--pids",
    "--hostname",
    "--env",
    "--workdir",
    "--user",
    "--volume",
    "--overlay",
    "--net",
    "--ip",
    "--publish",
    "--dns",
];

const HELP: &str = "Usage: qing create [--restart <policy>] [--log-size <bytes>] \
[--log <file|syslog>] [--autostart] [--order <n>] [qing run's options] <name> <rootfs> \
[<command...>]

Write the config of a named container, CONFIG_DIR/NAME.json. Every option of
qing run is taken too (qing run --help), except --name and --tty.

Options of its own:
  --restart         restart policy: no (the default), on-failure[:MAX] or always
  --log-size        cap of the log file, bytes or with k, m or g (default 256k);
                    one rotation is kept
  --log             where the log goes: file (the default) or syslog
  --autostart       started by `qing start --all`
  --order           place in `qing start --all`: lower first (default 0)
  --help            display usage information
";

/// Parses the arguments after `create`.
pub fn parse(args: &[&str]) -> Result<CreateArgs, EarlyExit> {
    let (mut restart, mut log_size, mut log, mut order) = (None, None, None, None);
    let mut autostart = false;
    let mut name = None;
    let mut rootfs_seen = false;
    let mut run: Vec<&str> = Vec::new();
    let mut rest = args.iter().copied();
    while let Some(arg) = rest.next() {
        match arg {
            "--help" => {
                return Err(EarlyExit {
                    output: HELP.to_string(),
                    status: Ok(()),
                })
            }
            "--autostart" => autostart = true,
            "--restart" | "--log-size" | "--log" | "--order" => {
                let value = rest
                    .next()
                    .ok_or_else(|| fail(format!("{arg} needs a value")))?;
                let slot = match arg {
                    "--restart" => &mut restart,
                    "--log-size" => &mut log_size,
                    "--log" => &mut log,
                    _ => &mut order,
                };
                *slot = Some(value.to_string());
            }
            "--name" | "--tty" | "-t" => {
                return Err(fail(format!(
                    "qing create does not take {arg}: the name is its first argument, \
                     and terminals are for qing run"
                )))
            }
            "--" => {
                // Only positionals from here on: NAME if not seen yet, then run's.
                if name.is_none() {
                    name = rest.next();
                }
                run.push(arg);
                run.extend(rest.by_ref());
            }
            _ if RUN_VALUED.contains(&arg) => {
                run.push(arg);
                run.extend(rest.next());
            }
            _ if arg.starts_with('-') && arg != "-" => run.push(arg),
            _ if name.is_none() => name = Some(arg),
            _ if !rootfs_seen => {
                rootfs_seen = true;
                run.push(arg);
            }
            _ => {
                // The command: everything from here on is its own.
                run.push(arg);
                run.extend(rest.by_ref());
            }
        }
    }
    let Some(name) = name else {
        return Err(fail("qing create needs a NAME and a ROOTFS".to_string()));
    };
    Ok(CreateArgs {
        run: RunArgs::from_args(&["qing", "create"], &run)?,
        name: name.to_string(),
        restart,
        log_size,
        log,
        autostart,
        order,
    })
}

fn fail(output: String) -> EarlyExit {
    EarlyExit {
        output: output + "\n",
        status: Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_valued_lists_every_option_of_run_that_takes_a_value() {
        let usage = match RunArgs::from_args(&["qing", "run"], &["--help"]) {
            Err(e) => e.output,
            Ok(_) => String::new(),
        };
        let line = usage.lines().next().unwrap_or_default();
        let mut valued: Vec<&str> = line
            .split('[')
            .filter_map(|part| part.split_once(" <").map(|(flag, _)| flag))
            .filter(|flag| flag.starts_with("--") && !flag.contains(']'))
            .collect();
        assert!(valued.len() > 5, "no options found in {line:?}");
        valued.sort_unstable();
        let mut expected = RUN_VALUED.to_vec();
        expected.sort_unstable();
        assert_eq!(valued, expected);
    }

    #[test]
    fn create_options_are_taken_anywhere_before_the_command() {
        let args = [
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
        let c = parse(&args).map_err(|e| e.output).unwrap();
        assert_eq!(c.name, "web");
        assert_eq!(c.restart.as_deref(), Some("always"));
        assert!(c.autostart);
        assert_eq!(c.run.memory.as_deref(), Some("8m"));
        assert_eq!(c.run.rootfs, "busybox");
        assert_eq!(c.log.as_deref(), Some("syslog"));
        assert_eq!(c.run.command, ["httpd", "--restart", "x"]);
    }

    #[test]
    fn a_value_that_looks_like_a_name_stays_the_options() {
        let c = parse(&["--hostname", "h", "--", "web", "busybox", "--memory"])
            .map_err(|e| e.output)
            .unwrap();
        assert_eq!(
            (c.name.as_str(), c.run.hostname.as_deref()),
            ("web", Some("h"))
        );
        assert_eq!(c.run.command, ["--memory"]);
    }
}
