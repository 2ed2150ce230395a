//! The command line's shape: every command and its options, as argh parses them.
//! Values stay strings here; `spec` and `config` check them.

use crate::spec::Options;
use argh::FromArgs;

#[derive(FromArgs)]
#[argh(subcommand, name = "run")]
/// run a command in a new container and wait for it
pub struct RunArgs {
    /// container name (default: generated)
    #[argh(option)]
    pub name: Option<String>,
    /// give the command a terminal (relayed to this one, in raw mode)
    #[argh(switch, short = 't')]
    pub tty: bool,
    /// memory limit: bytes, or a number with k, m or g
    #[argh(option)]
    pub memory: Option<String>,
    /// CPU limit, as a number of CPUs (0.5, 2)
    #[argh(option)]
    pub cpus: Option<String>,
    /// most processes the container may have at once
    #[argh(option)]
    pub pids: Option<String>,
    /// host name (default: the container name)
    #[argh(option)]
    pub hostname: Option<String>,
    /// environment entry KEY=VALUE (repeatable); KEY alone passes the host's value
    #[argh(option)]
    pub env: Vec<String>,
    /// working directory inside the container (default: the template's, else /)
    #[argh(option)]
    pub workdir: Option<String>,
    /// user to run as: UID[:GID] or names from the container's /etc/passwd
    #[argh(option)]
    pub user: Option<String>,
    /// bind a host path: SRC:DST[:ro] (repeatable)
    #[argh(option)]
    pub volume: Vec<String>,
    /// mount the root read-only, with tmpfs on /tmp and /run
    #[argh(switch)]
    pub read_only: bool,
    /// keep the container's changes in DIR across runs (an overlayfs upper layer)
    #[argh(option)]
    pub overlay: Option<String>,
    /// network: none (loopback only, the default), host, bridge (a veth on qing's
    /// bridge) or container:NAME (a running container's)
    #[argh(option)]
    pub net: Option<String>,
    /// address on the bridge (default: the first free one)
    #[argh(option)]
    pub ip: Option<String>,
    /// forward a host port to the container: [HOSTIP:]HOSTPORT:PORT[/tcp|udp]
    /// (repeatable; needs --net bridge)
    #[argh(option)]
    pub publish: Vec<String>,
    /// name server for /etc/resolv.conf, instead of the host's (repeatable)
    #[argh(option)]
    pub dns: Vec<String>,
    /// switch root with chroot instead of pivot_root (as on an initramfs root)
    #[argh(switch)]
    pub no_pivot: bool,
    /// root filesystem: an installed template's name, a directory, a .squashfs
    /// image, or a template manifest (.json)
    #[argh(positional)]
    pub rootfs: String,
    /// command and arguments (default: the template's, else /bin/sh)
    #[argh(positional, greedy)]
    pub command: Vec<String>,
}

impl RunArgs {
    pub fn options(&self) -> Options {
        Options {
            memory: self.memory.clone(),
            cpus: self.cpus.clone(),
            pids: self.pids.clone(),
            hostname: self.hostname.clone(),
            env: self.env.clone(),
            workdir: self.workdir.clone(),
            user: self.user.clone(),
            volumes: self.volume.clone(),
            read_only: self.read_only,
            overlay: self.overlay.clone(),
            net: self.net.clone(),
            ip: self.ip.clone(),
            publish: self.publish.clone(),
            dns: self.dns.clone(),
            no_pivot: self.no_pivot,
            rootfs: self.rootfs.clone(),
            command: self.command.clone(),
        }
    }
}

#[derive(FromArgs)]
#[argh(subcommand, name = "create")]
/// write a named container's config, with qing run's options (qing create --help)
pub struct CreateArgs {}

#[derive(FromArgs)]
/// qing: an ultra-light container manager for embedded Linux boards.
pub struct Qing {
    /// directory for qing's state (default: /run/qing, /var/lib/qing, /etc/qing,
    /// /var/log/qing)
    #[argh(option)]
    pub root: Option<String>,
    /// directory of container configs, NAME.json (default: /etc/qing)
    #[argh(option)]
    pub config_dir: Option<String>,
    #[argh(subcommand)]
    pub command: Command,
}

#[derive(FromArgs)]
#[argh(subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum Command {
    Run(RunArgs),
    Create(CreateArgs),
    Rm(RmArgs),
    Start(StartArgs),
    Stop(StopArgs),
    Restart(RestartArgs),
    Status(StatusArgs),
    List(ListArgs),
    Logs(LogsArgs),
    Stats(StatsArgs),
    Exec(ExecArgs),
    Net(NetArgs),
    Templates(TemplatesArgs),
    Import(ImportArgs),
    Check(CheckArgs),
    Version(VersionArgs),
}

#[derive(FromArgs)]
#[argh(subcommand, name = "rm")]
/// remove a stopped container's config, record and log
pub struct RmArgs {
    /// the container's name
    #[argh(positional)]
    pub name: String,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "status")]
/// print a container's state; exit 0 running, 3 stopped, 4 unknown (as LSB init scripts)
pub struct StatusArgs {
    /// every autostart container: 0 only when all of them run
    #[argh(switch)]
    pub all: bool,
    /// the container's name
    #[argh(positional)]
    pub name: Option<String>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "start")]
/// start a named container under a supervisor; returns once it runs
pub struct StartArgs {
    /// stay attached as the supervisor, for procd, systemd or runit
    #[argh(switch)]
    pub foreground: bool,
    /// start every config marked autostart, in its order
    #[argh(switch)]
    pub all: bool,
    /// the container's name
    #[argh(positional)]
    pub name: Option<String>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "stop")]
/// stop a named container: SIGTERM, then SIGKILL after --time seconds
pub struct StopArgs {
    /// seconds between SIGTERM and SIGKILL (default 10)
    #[argh(option)]
    pub time: Option<String>,
    /// stop every running container that has a config, last started first
    #[argh(switch)]
    pub all: bool,
    /// the container's name
    #[argh(positional)]
    pub name: Option<String>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "restart")]
/// stop a named container, then start it
pub struct RestartArgs {
    /// seconds between SIGTERM and SIGKILL (default 10)
    #[argh(option)]
    pub time: Option<String>,
    /// the container's name
    #[argh(positional)]
    pub name: String,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "list")]
/// list containers: name, state, pid, uptime, memory, rootfs
pub struct ListArgs {
    /// print JSON for scripts
    #[argh(switch)]
    pub json: bool,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "logs")]
/// print a named container's log
pub struct LogsArgs {
    /// keep printing what is added
    #[argh(switch)]
    pub follow: bool,
    /// only the last N lines
    #[argh(option)]
    pub tail: Option<String>,
    /// the container's name
    #[argh(positional)]
    pub name: String,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "stats")]
/// memory, CPU time and processes of a running container, from its cgroups
pub struct StatsArgs {
    /// print JSON for scripts
    #[argh(switch)]
    pub json: bool,
    /// the container's name
    #[argh(positional)]
    pub name: String,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "exec")]
/// run a command in a running container: its namespaces, cgroups, user and limits
pub struct ExecArgs {
    /// give the command a terminal (relayed to this one, in raw mode)
    #[argh(switch, short = 't')]
    pub tty: bool,
    /// environment entry KEY=VALUE (repeatable), over the container's
    #[argh(option)]
    pub env: Vec<String>,
    /// user to run as (default: the container command's)
    #[argh(option)]
    pub user: Option<String>,
    /// working directory (default: the container command's)
    #[argh(option)]
    pub workdir: Option<String>,
    /// the container's name
    #[argh(positional)]
    pub name: String,
    /// command and arguments
    #[argh(positional, greedy)]
    pub command: Vec<String>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "net")]
/// the bridge: its subnet and the containers' addresses; `qing net down` removes it
pub struct NetArgs {
    /// print JSON for scripts
    #[argh(switch)]
    pub json: bool,
    /// with up: masquerade the bridge's traffic out of the host now, whatever its
    /// settings say (until `qing net down`; "nat": true in its settings lasts)
    #[argh(switch)]
    pub nat: bool,
    /// up: make the bridge now and apply its NAT setting; down: remove it (no
    /// container may be on it)
    #[argh(positional)]
    pub action: Option<String>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "templates")]
/// list installed templates: name, architecture, size, verified or not
pub struct TemplatesArgs {
    /// print JSON for scripts
    #[argh(switch)]
    pub json: bool,
    /// hash every image now (exit status 1 if any is corrupt)
    #[argh(switch)]
    pub verify: bool,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "import")]
/// install a built template (NAME.json with NAME.squashfs beside it), checking its sha256
pub struct ImportArgs {
    /// the manifest, or the squashfs image with its manifest beside it
    #[argh(positional)]
    pub source: String,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "check")]
/// report which kernel features qing needs are present
pub struct CheckArgs {}

#[derive(FromArgs)]
#[argh(subcommand, name = "version")]
/// print qing's version
pub struct VersionArgs {}
