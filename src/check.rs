//! `qing check`: the kernel feature report.
pub fn report() -> i32 {
    0
}
