//! qing: an ultra-light container manager for embedded Linux boards. The code is the
//! library (src/lib.rs); this is its caller.

fn main() {
    std::process::exit(qing::main())
}
