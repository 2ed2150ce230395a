//! The description of an option: its flag on the command line, what it takes, its
//! help, its key in a container's config, and the build option it needs. `cli` parses
//! command lines with these, `spec::options` and `config::KEEP` are tables of them,
//! and the config reader and writer walk those tables.

use crate::features::Feature;

#[derive(Clone, Copy, PartialEq)]
pub enum Takes {
    Switch,
    /// One value, named for the help text.
    Value(&'static str),
    /// A value each time it is given.
    Values(&'static str),
}

/// An option with no short alias: `key` is its config key ("" for none).
pub const fn option(
    long: &'static str,
    takes: Takes,
    key: &'static str,
    help: &'static str,
    feature: &'static Feature,
) -> Flag {
    Flag {
        long,
        short: "",
        takes,
        help,
        key,
        feature,
    }
}

pub struct Flag {
    /// `--long`, with its dashes.
    pub long: &'static str,
    /// A single-letter alias, `-t`.
    pub short: &'static str,
    pub takes: Takes,
    pub help: &'static str,
    /// Its key in a container's config, or "" when it has none.
    pub key: &'static str,
    pub feature: &'static Feature,
}
