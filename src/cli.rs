//! The command line: argv to one of qing's commands. Options arrive as strings and
//! are validated by `spec`, so every bad value gets qing's own message and exit 125.

use crate::error::{Error, Result, EXIT_QING_FAILED};
use crate::spec::{self, Options, Spec};
use crate::state::Paths;
use crate::template::store::{self, Store};
use argh::FromArgs;

#[derive(FromArgs)]
/// qing: an ultra-light container manager for embedded Linux boards.
struct Qing {
    /// directory for qing's state (default: /run/qing and /var/lib/qing)
    #[argh(option)]
    root: Option<String>,
    #[argh(subcommand)]
    command: Command,
}

#[derive(FromArgs)]
#[argh(subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process
enum Command {
    Run(RunArgs),
    Templates(TemplatesArgs),
    Import(ImportArgs),
    Check(CheckArgs),
    Version(VersionArgs),
}

#[derive(FromArgs)]
#[argh(subcommand, name = "run")]
/// run a command in a new container and wait for it
struct RunArgs {
    /// container name (default: generated)
    #[argh(option)]
    name: Option<String>,
    /// memory limit: bytes, or a number with k, m or g
    #[argh(option)]
    memory: Option<String>,
    /// CPU limit, as a number of CPUs (0.5, 2)
    #[argh(option)]
    cpus: Option<String>,
    /// most processes the container may have at once
    #[argh(option)]
    pids: Option<String>,
    /// host name (default: the container name)
    #[argh(option)]
    hostname: Option<String>,
    /// environment entry KEY=VALUE (repeatable); KEY alone passes the host's value
    #[argh(option)]
    env: Vec<String>,
    /// working directory inside the container (default: /)
    #[argh(option)]
    workdir: Option<String>,
    /// user to run as: UID[:GID] or names from the container's /etc/passwd
    #[argh(option)]
    user: Option<String>,
    /// bind a host path: SRC:DST[:ro] (repeatable)
    #[argh(option)]
    volume: Vec<String>,
    /// mount the root read-only, with tmpfs on /tmp and /run
    #[argh(switch)]
    read_only: bool,
    /// keep the container's changes in DIR across runs (an overlayfs upper layer)
    #[argh(option)]
    overlay: Option<String>,
    /// network: none (loopback only, the default) or host
    #[argh(option)]
    net: Option<String>,
    /// switch root with chroot instead of pivot_root (as on an initramfs root)
    #[argh(switch)]
    no_pivot: bool,
    /// root filesystem: an installed template's name, a directory, a .squashfs image,
    /// or a template manifest (.json)
    #[argh(positional)]
    rootfs: String,
    /// command and arguments (default: the template's, else /bin/sh)
    #[argh(positional, greedy)]
    command: Vec<String>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "templates")]
/// list installed templates: name, architecture, size, verified or not
struct TemplatesArgs {
    /// print JSON for scripts
    #[argh(switch)]
    json: bool,
    /// hash every image now (exit status 1 if any is corrupt)
    #[argh(switch)]
    verify: bool,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "import")]
/// install a built template (NAME.json with NAME.squashfs beside it), checking its sha256
struct ImportArgs {
    /// the manifest, or the squashfs image with its manifest beside it
    #[argh(positional)]
    source: String,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "check")]
/// report which kernel features qing needs are present
struct CheckArgs {}

#[derive(FromArgs)]
#[argh(subcommand, name = "version")]
/// print qing's version
struct VersionArgs {}

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
    let qing = match Qing::from_args(&[cmd], rest) {
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
    let result = match qing.command {
        Command::Run(args) => {
            run_spec(args).and_then(|spec| crate::launch::run(&spec, &Paths::new(root)?))
        }
        Command::Templates(args) => Paths::new(root)
            .map(|paths| store::list(&Store::new(&paths.data), args.json, args.verify)),
        Command::Import(args) => {
            Paths::new(root).and_then(|paths| store::import(&Store::new(&paths.data), &args.source))
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
    let name = match a.name {
        Some(n) => n,
        None => generated_name()?,
    };
    let options = Options {
        memory: a.memory,
        cpus: a.cpus,
        pids: a.pids,
        hostname: a.hostname,
        env: a.env,
        workdir: a.workdir,
        user: a.user,
        volumes: a.volume,
        read_only: a.read_only,
        overlay: a.overlay,
        net: a.net,
        no_pivot: a.no_pivot,
        rootfs: a.rootfs,
        command: a.command,
    };
    spec::build(
        name,
        &options,
        |k| std::env::var(k).ok(),
        crate::sys::online_cpus(),
    )
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
