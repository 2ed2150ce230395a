//! The command line, from tables: each command is a `Command`, each option a `Flag`,
//! and one small parser and one help printer serve them all. An option is described
//! once, where it is defined (a run option in `spec::options`, the same description
//! for the command line, the config reader and the config writer).
//!
//! The rules are the usual ones: options may come anywhere before a command's
//! trailing CMD, which starts at its first word after the other positionals (or after
//! `--`) and takes everything that follows as it is; `--flag VALUE` or
//! `--flag=VALUE`; a single-value option given twice is an error.

use crate::error::{Error, Result};
use crate::features::Feature;
pub use crate::flag::{Flag, Takes};

/// A positional argument, as its usage line names it.
pub struct Positional {
    pub name: &'static str,
    /// What it is, for "qing run needs a rootfs (ROOTFS)".
    pub what: &'static str,
    pub required: bool,
    /// The trailing CMD: everything from its first word on.
    pub rest: bool,
}

pub struct Command {
    pub name: &'static str,
    pub about: &'static str,
    /// The option tables, in the order `--help` shows them.
    pub flags: &'static [&'static [Flag]],
    pub positionals: &'static [Positional],
    pub feature: &'static Feature,
}

/// What one command's arguments were.
pub struct Args<'a> {
    /// Each option given, in order, with its value ("" for a switch).
    pub given: Vec<(&'static Flag, &'a str)>,
    /// The positionals before the trailing CMD.
    pub positionals: Vec<&'a str>,
    pub rest: Vec<&'a str>,
}

impl<'a> Args<'a> {
    pub fn switch(&self, long: &str) -> bool {
        self.given.iter().any(|(f, _)| f.long == long)
    }

    pub fn value(&self, long: &str) -> Option<&'a str> {
        self.given
            .iter()
            .find(|(f, _)| f.long == long)
            .map(|(_, v)| *v)
    }

    pub fn values(&self, long: &str) -> Vec<&'a str> {
        self.given
            .iter()
            .filter(|(f, _)| f.long == long)
            .map(|(_, v)| *v)
            .collect()
    }

    pub fn positional(&self, at: usize) -> Option<&'a str> {
        self.positionals.get(at).copied()
    }
}

/// `--help` was asked for: not an error, but nothing to run.
pub const HELP: &str = "--help";

/// "qing run", or "qing" for qing's own options.
fn title(cmd: &Command) -> String {
    if cmd.name.is_empty() {
        "qing".to_string()
    } else {
        format!("qing {}", cmd.name)
    }
}

fn find<'t>(cmd: &'t Command, arg: &str) -> Option<&'t Flag> {
    cmd.flags
        .iter()
        .flat_map(|table| table.iter())
        .find(|f| f.long == arg || (!f.short.is_empty() && f.short == arg))
}

/// Parses `argv`, the words after the command's name. `Err` with the message
/// `HELP` when `--help` was asked.
pub fn parse<'a>(cmd: &'static Command, argv: &[&'a str]) -> Result<Args<'a>> {
    let mut args = Args {
        given: Vec::new(),
        positionals: Vec::new(),
        rest: Vec::new(),
    };
    let fixed = cmd.positionals.iter().filter(|p| !p.rest).count();
    let has_rest = cmd.positionals.iter().any(|p| p.rest);
    let mut options = true;
    let mut words = argv.iter();
    while let Some(&arg) = words.next() {
        let in_rest = !args.rest.is_empty();
        if in_rest {
            args.rest.push(arg);
            continue;
        }
        if options && arg == "--" {
            options = false;
            continue;
        }
        if options && arg.len() > 1 && arg.starts_with('-') {
            if arg == HELP || arg == "-h" {
                return Err(Error::new(HELP));
            }
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) if n.starts_with("--") => (n, Some(v)),
                _ => (arg, None),
            };
            let flag = find(cmd, name).ok_or_else(|| {
                Error::new(format!("{}: unknown option {name}", title(cmd)))
                    .hint(format!("`{} --help` lists its options", title(cmd)))
            })?;
            flag.feature.need(flag.long)?;
            let value = match (flag.takes, inline) {
                (Takes::Switch, None) => "",
                (Takes::Switch, Some(_)) => {
                    return Err(Error::new(format!("{} takes no value", flag.long)))
                }
                (_, Some(v)) => v,
                (_, None) => words.next().copied().ok_or_else(|| {
                    Error::new(format!("{} needs a value", flag.long))
                        .hint(format!("`{} --help` says what it takes", title(cmd)))
                })?,
            };
            if !matches!(flag.takes, Takes::Values(_))
                && args.given.iter().any(|(f, _)| f.long == flag.long)
            {
                return Err(Error::new(format!("{} is given twice", flag.long))
                    .hint("give it once; only the options marked (repeatable) take several"));
            }
            args.given.push((flag, value));
            continue;
        }
        if args.positionals.len() < fixed {
            args.positionals.push(arg);
        } else if has_rest {
            args.rest.push(arg);
        } else {
            return Err(Error::new(format!(
                "{}: unexpected argument {arg_q}",
                title(cmd),
                arg_q = crate::error::quoted(arg)
            ))
            .hint(format!("usage: {}", usage(cmd))));
        }
    }
    // The fixed positionals come first, CMD last.
    let missing = cmd.positionals.iter().enumerate().find(|(i, p)| {
        p.required
            && if p.rest {
                args.rest.is_empty()
            } else {
                *i >= args.positionals.len()
            }
    });
    if let Some((_, missing)) = missing {
        return Err(Error::new(format!(
            "{} needs {} ({})",
            title(cmd),
            missing.what,
            missing.name
        ))
        .hint(format!("usage: {}", usage(cmd))));
    }
    Ok(args)
}

/// `qing NAME [--flag VALUE]... POSITIONALS`: the options this build has.
pub fn usage(cmd: &Command) -> String {
    let mut line = String::from("qing");
    if !cmd.name.is_empty() {
        line.push(' ');
        line.push_str(cmd.name);
    }
    for f in cmd
        .flags
        .iter()
        .flat_map(|t| t.iter())
        .filter(|f| f.feature.built)
    {
        line.push_str(" [");
        line.push_str(f.long);
        match f.takes {
            Takes::Switch => {}
            Takes::Value(v) => {
                line.push(' ');
                line.push_str(v);
            }
            Takes::Values(v) => {
                line.push(' ');
                line.push_str(v);
                line.push_str("]...");
                continue;
            }
        }
        line.push(']');
    }
    for p in cmd.positionals {
        let name = if p.rest {
            format!("{}...", p.name)
        } else {
            p.name.to_string()
        };
        if p.required {
            line.push(' ');
            line.push_str(&name);
        } else {
            line.push_str(" [");
            line.push_str(&name);
            line.push(']');
        }
    }
    line
}

/// The help text of a command: usage, what it does, and each option.
pub fn help(cmd: &Command) -> String {
    let mut text = format!("Usage: {}\n\n{}\n", usage(cmd), cmd.about);
    let flags: Vec<&Flag> = cmd
        .flags
        .iter()
        .flat_map(|t| t.iter())
        .filter(|f| f.feature.built)
        .collect();
    if !flags.is_empty() {
        text.push_str("\nOptions:\n");
    }
    for f in flags {
        let mut name = f.long.to_string();
        if !f.short.is_empty() {
            name = format!("{}, {name}", f.short);
        }
        if let Takes::Value(v) | Takes::Values(v) = f.takes {
            name.push(' ');
            name.push_str(v);
        }
        let repeat = if matches!(f.takes, Takes::Values(_)) {
            " (repeatable)"
        } else {
            ""
        };
        // A long option and value get a line of their own.
        let gap = if name.len() > 22 {
            "\n                        "
        } else {
            ""
        };
        text.push_str(&format!("  {name:<22}{gap}  {}{repeat}\n", f.help));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::CORE;

    const FLAGS: [Flag; 3] = [
        Flag {
            long: "--memory",
            short: "",
            takes: Takes::Value("SIZE"),
            help: "",
            key: "memory",
            feature: &CORE,
        },
        Flag {
            long: "--env",
            short: "",
            takes: Takes::Values("K=V"),
            help: "",
            key: "env",
            feature: &CORE,
        },
        Flag {
            long: "--tty",
            short: "-t",
            takes: Takes::Switch,
            help: "",
            key: "",
            feature: &CORE,
        },
    ];
    static RUN: Command = Command {
        name: "run",
        about: "",
        flags: &[&FLAGS],
        positionals: &[
            Positional {
                name: "ROOTFS",
                what: "a rootfs",
                required: true,
                rest: false,
            },
            Positional {
                name: "CMD",
                what: "a command",
                required: false,
                rest: true,
            },
        ],
        feature: &CORE,
    };

    #[test]
    fn options_come_before_the_command_which_takes_the_rest_as_it_is() {
        let a = parse(
            &RUN,
            &[
                "--memory=8m",
                "-t",
                "box",
                "--env",
                "A=1",
                "ls",
                "--env",
                "-l",
            ],
        )
        .map_err(|e| e.to_string())
        .unwrap();
        assert_eq!(a.value("--memory"), Some("8m"));
        assert!(a.switch("--tty"));
        assert_eq!(a.values("--env"), ["A=1"]);
        assert_eq!(a.positional(0), Some("box"));
        assert_eq!(a.rest, ["ls", "--env", "-l"]);
        let a = parse(&RUN, &["box", "--", "--memory"])
            .map_err(|e| e.to_string())
            .unwrap();
        assert_eq!(
            (a.positional(0), a.rest.as_slice()),
            (Some("box"), &["--memory"][..])
        );
        let a = parse(&RUN, &["--", "box", "sh"])
            .map_err(|e| e.to_string())
            .unwrap();
        assert_eq!(
            (a.positional(0), a.rest.as_slice()),
            (Some("box"), &["sh"][..])
        );
    }

    #[test]
    fn bad_command_lines_are_errors_that_say_what_was_wrong() {
        for (argv, said) in [
            (&["--bogus", "box"][..], "unknown option --bogus"),
            (&["--memory"][..], "--memory needs a value"),
            (
                &["--memory", "1m", "--memory", "2m", "box"][..],
                "--memory is given twice",
            ),
            (&["--tty=yes", "box"][..], "--tty takes no value"),
            (&[][..], "qing run needs a rootfs (ROOTFS)"),
        ] {
            let e = parse(&RUN, argv)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains(said), "{argv:?}: {e}");
        }
        assert!(parse(&RUN, &["--help"]).is_err_and(|e| e.what() == HELP));
    }

    #[test]
    fn help_lists_every_option_of_the_build() {
        let text = help(&RUN);
        assert!(
            text.starts_with(
                "Usage: qing run [--memory SIZE] [--env K=V]... [--tty] ROOTFS [CMD...]"
            ),
            "{text}"
        );
        assert!(text.contains("-t, --tty"), "{text}");
    }
}
