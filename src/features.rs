//! The build options (cargo features), one description each: what `qing version`
//! lists, what the messages of a build without one say, and which `--help` hides.
//!
//! Code that needs a feature asks `FEATURE.built`, a constant: where it is false the
//! compiler drops what only that code reaches, so a build without the bridge carries
//! no bridge code, and every build still compiles all of qing.

use crate::error::Error;

pub struct Feature {
    /// The cargo feature, and the word `qing version` prints.
    pub name: &'static str,
    /// What it is, for "this qing was built without ...".
    pub what: &'static str,
    pub built: bool,
}

pub const SQUASHFS: Feature = Feature {
    name: "squashfs",
    what: "squashfs images, installed templates and persistent layers",
    built: cfg!(feature = "squashfs"),
};
pub const NAMED: Feature = Feature {
    name: "named",
    what: "named containers (configs, the supervisor, logs)",
    built: cfg!(feature = "named"),
};
pub const BRIDGE: Feature = Feature {
    name: "bridge",
    what: "bridge networking",
    built: cfg!(feature = "bridge"),
};
pub const EXEC: Feature = Feature {
    name: "exec",
    what: "joining running containers (exec, --net container:NAME)",
    built: cfg!(feature = "exec"),
};
pub const TTY: Feature = Feature {
    name: "tty",
    what: "terminals (--tty)",
    built: cfg!(feature = "tty"),
};
pub const DEBUG: Feature = Feature {
    name: "debug",
    what: "the --debug trace",
    built: cfg!(feature = "debug"),
};
pub const SECCOMP: Feature = Feature {
    name: "seccomp",
    what: "seccomp filters (--seccomp)",
    built: cfg!(feature = "seccomp"),
};
/// What every build has.
pub const CORE: Feature = Feature {
    name: "core",
    what: "",
    built: true,
};

pub const ALL: [&Feature; 7] = [&SQUASHFS, &NAMED, &BRIDGE, &EXEC, &TTY, &DEBUG, &SECCOMP];

impl Feature {
    /// `Ok` in a build with the feature; else the error for `what` ("--ip"). For
    /// checks of input; code that must vanish from a build without the feature asks
    /// `if !FEATURE.built { return Err(FEATURE.left_out(..)) }` instead, a branch the
    /// compiler can see is never taken.
    pub fn need(&self, what: &str) -> crate::error::Result<()> {
        if self.built {
            Ok(())
        } else {
            Err(self.left_out(what))
        }
    }

    /// The error for `what` ("--ip") in a build without the feature.
    #[inline(never)]
    pub fn left_out(&self, what: &str) -> Error {
        Error::new(format!(
            "{what}: this qing was built without {} (feature {})",
            self.what, self.name
        ))
        .hint(format!(
            "use a qing built with it (cross/build.sh TARGET --features {}), or leave out {what}",
            self.name
        ))
    }
}

/// The features built in, one word each, as `qing version` prints them.
pub fn built() -> String {
    let names: Vec<&str> = ALL.iter().filter(|f| f.built).map(|f| f.name).collect();
    names.join(" ")
}
