//! qing: an ultra-light container manager for embedded Linux boards.
//!
//! The library is the whole of qing: main.rs only calls `main`. Everything else stays
//! private to the crate; `fuzz` (built only under cargo-fuzz) feeds bytes to the
//! parsers of outside input, for tests/fuzz.
//!
//! Reading order: `cli` (argv) -> `spec` (validated input) -> `launch` (the one
//! straight path of `qing run`), which calls the kernel-concern modules: `ns`,
//! `cgroup`, `rootfs`, `net`, `security`, `process`, `wait`. Raw system calls
//! and every `unsafe` block live in `sys`: the compiler holds the rest of qing to it.

#![deny(unsafe_code)]

mod capabilities;
mod cgroup;
mod check;
mod cli;
mod config;
mod debug;
mod error;
mod exec;
mod features;
mod flag;
mod json;
mod kernel;
mod launch;
mod lifecycle;
mod logs;
mod mount;
mod name;
mod net;
mod ns;
mod process;
mod report;
mod rootfs;
mod running;
mod seccomp;
mod security;
mod spec;
mod state;
mod supervisor;
mod sys;
mod template;
mod tty;
mod wait;

#[cfg(fuzzing)]
pub mod fuzz;

/// qing's command line, from the process's own arguments; the exit code.
pub fn main() -> i32 {
    sys::ensure_stdio_open();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // A supervisor executing itself anew, once its container runs.
    if features::NAMED.built && args.first().is_some_and(|a| a == supervisor::ARGV0) {
        let args: Vec<String> = args
            .into_iter()
            .filter_map(|a| a.into_string().ok())
            .collect();
        return supervisor::resume(&args);
    }
    cli::main(args)
}
