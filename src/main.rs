//! qing: an ultra-light container manager for embedded Linux boards.
//!
//! Reading order: `cli` (argv) -> `spec` (validated input) -> `launch` (the one
//! straight path of `qing run`), which calls the kernel-concern modules: `ns`,
//! `cgroup`, `rootfs`, `net`, `security`, `process`, `supervise`. Raw system calls
//! and every `unsafe` block live in `sys`.

mod cgroup;
mod check;
mod cli;
mod error;
mod json;
mod launch;
mod net;
mod ns;
mod process;
mod report;
mod rootfs;
mod security;
mod spec;
mod state;
mod supervise;
mod sys;
mod template;

fn main() {
    sys::ensure_stdio_open();
    let code = cli::main(std::env::args_os().collect());
    std::process::exit(code)
}
