//! The one alphabet of the names qing gives to things on the host: containers (they
//! become cgroup, claim, config and log file names) and templates (installed files).

/// 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit: safe
/// as a file or cgroup name, and never `.` or `..`.
pub fn is_valid(s: &str) -> bool {
    let ok_first = s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
    let ok_rest = s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    ok_first && ok_rest && s.len() <= 64
}

/// What `is_valid` asks, for hints.
pub const RULE: &str = "use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit";
