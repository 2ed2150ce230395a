//! The few system calls nix does not wrap, or wraps in a way qing cannot use. Every
//! `unsafe` block of qing lives here, each with the reason it is sound, in one file
//! per kind of thing: processes and signals, descriptors, security, devices, memory,
//! and the memory allocator.

// The one module where unsafe code is allowed (main.rs denies it everywhere else).
#![allow(unsafe_code)]

// musl builds bring their own malloc (alloc.rs says why); glibc's test builds
// keep glibc's, and test its logic alone.
#[cfg(any(test, target_env = "musl"))]
mod alloc;
mod device;
mod fd;
mod memory;
mod process;
mod security;

pub use device::*;
pub use fd::*;
pub use memory::*;
pub use process::*;
pub use security::*;
