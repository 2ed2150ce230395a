//! The kernel options qing uses: one list. `qing check` names them in its remedies and
//! prints them with `--kconfig`; boards/kernel/generate.sh turns the same list into
//! Buildroot's QING_LINUX_CONFIG_FIXUPS and Yocto's kernel fragments, and a test checks
//! that those are up to date and agree with `qing check --kconfig`. No other file of
//! src/ spells a CONFIG_ name (a test checks that too).
//!
//! Each line is `NAME, FEATURE, NEED;` for the option CONFIG_NAME, used by the build
//! option FEATURE (features.rs): REQUIRED where `qing check` reports it MISSING, OPTIONAL
//! where qing copes without it (and check says OPTIONAL). Options that others depend on
//! are listed too, so that a config fragment enabling the list survives olddefconfig.
//! The generator reads these lines as they are: keep one option per line.

use crate::features::{self, Feature};

pub struct KernelOption {
    /// CONFIG_NAME.
    pub name: &'static str,
    /// The build option that uses it.
    pub feature: &'static Feature,
    /// `qing check` reports it MISSING (not OPTIONAL) when it is not there.
    pub required: bool,
}

impl KernelOption {
    /// The hint of an error that this option would have avoided.
    pub fn needed(&self) -> String {
        format!("run `qing check`: the kernel needs {}", self.name)
    }
}

const REQUIRED: bool = true;
const OPTIONAL: bool = false;

macro_rules! kernel_options {
    ($($(#[doc = $doc:literal])* $name:ident, $feature:ident, $need:ident;)*) => {
        $(
            $(#[doc = $doc])*
            #[allow(dead_code)] // some are only in ALL: what others depend on
            pub const $name: KernelOption = KernelOption {
                name: concat!("CONFIG_", stringify!($name)),
                feature: &features::$feature,
                required: $need,
            };
        )*
        /// Every option, in the list's order.
        pub const ALL: &[&KernelOption] = &[$(&$name),*];
    };
}

kernel_options! {
    /// Mount namespaces, and the other namespaces at all.
    NAMESPACES, CORE, REQUIRED;
    UTS_NS, CORE, REQUIRED;
    IPC_NS, CORE, REQUIRED;
    PID_NS, CORE, REQUIRED;
    NET_NS, CORE, REQUIRED;
    /// The cgroup filesystems and the cgroup namespace.
    CGROUPS, CORE, REQUIRED;
    /// --memory.
    MEMCG, CORE, REQUIRED;
    /// --pids.
    CGROUP_PIDS, CORE, REQUIRED;
    /// --cpus: the cpu controller with CFS quotas (the first two are what it depends on).
    CGROUP_SCHED, CORE, REQUIRED;
    FAIR_GROUP_SCHED, CORE, REQUIRED;
    CFS_BANDWIDTH, CORE, REQUIRED;
    /// Each container's /tmp, /dev and masked paths.
    TMPFS, CORE, REQUIRED;
    /// Each container's own /dev/pts.
    UNIX98_PTYS, CORE, REQUIRED;
    /// Each container's own /dev/mqueue (POSIX message queues): left out where the
    /// kernel has none, as Buildroot's Malta config has not.
    POSIX_MQUEUE, CORE, OPTIONAL;
    /// A writable layer over a read-only root.
    OVERLAY_FS, CORE, OPTIONAL;
    /// Seccomp filters.
    SECCOMP, CORE, OPTIONAL;
    SECCOMP_FILTER, CORE, OPTIONAL;
    /// Squashfs templates: the filesystem, the templates' compressors, loop devices.
    SQUASHFS, SQUASHFS, OPTIONAL;
    SQUASHFS_XZ, SQUASHFS, OPTIONAL;
    SQUASHFS_ZSTD, SQUASHFS, OPTIONAL;
    BLK_DEV_LOOP, SQUASHFS, OPTIONAL;
    /// The bridge and each container's end of it.
    BRIDGE, BRIDGE, OPTIONAL;
    VETH, BRIDGE, OPTIONAL;
    /// The bridge's outbound NAT, through nft.
    NETFILTER, BRIDGE, OPTIONAL;
    NF_CONNTRACK, BRIDGE, OPTIONAL;
    NF_NAT, BRIDGE, OPTIONAL;
    NF_TABLES, BRIDGE, OPTIONAL;
    NF_TABLES_IPV4, BRIDGE, OPTIONAL;
    NFT_NAT, BRIDGE, OPTIONAL;
    NFT_MASQ, BRIDGE, OPTIONAL;
    /// The same through iptables, where the board has iptables instead of nft.
    NETFILTER_XTABLES, BRIDGE, OPTIONAL;
    IP_NF_IPTABLES, BRIDGE, OPTIONAL;
    IP_NF_NAT, BRIDGE, OPTIONAL;
    IP_NF_TARGET_MASQUERADE, BRIDGE, OPTIONAL;
}

/// `qing check --kconfig`: the options of the features this qing has, as a kernel
/// config fragment.
pub fn print_fragment() -> i32 {
    let built = features::built();
    crate::error::out!(
        "# The kernel options qing {} uses (features: {})",
        env!("CARGO_PKG_VERSION"),
        if built.is_empty() { "none" } else { &built }
    );
    for option in ALL.iter().filter(|o| o.feature.built) {
        crate::error::out!("{}=y", option.name);
    }
    0
}
