//! qing: an ultra-light container manager for embedded Linux boards.
fn main() {
    println!("qing {}", env!("CARGO_PKG_VERSION"));
}
