//! The container's command: the user it runs as, its environment, and finding and
//! executing it with the shell's conventions (126 cannot execute, 127 not found).
//! Runs inside the container's root, so the files read here are the image's.

use crate::error::{Error, Result, EXIT_CANNOT_EXECUTE, EXIT_NOT_FOUND};
use crate::security::{self, ExeIdentity};
use crate::spec::{Id, User, DEFAULT_PATH};
use nix::errno::Errno;
use nix::unistd::execve;
use std::ffi::CString;
use std::path::{Path, PathBuf};

/// Account files larger than this are not account files.
const MAX_ACCOUNT_FILE: u64 = 1 << 20;

#[derive(Debug, PartialEq, Clone)]
pub struct Credentials {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub home: String,
}

fn read_account_file(path: &str) -> String {
    use nix::sys::stat::SFlag;
    use std::io::Read;
    let mut bytes = Vec::with_capacity(4096);
    // Non-blocking, and a regular file only: the image's /etc/passwd can be a FIFO,
    // whose open and read wait for a writer that never comes.
    let flags = nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_NONBLOCK;
    if let Ok(f) = crate::sys::open_file(std::path::Path::new(path), flags, 0) {
        let regular = nix::sys::stat::fstat(&f)
            .is_ok_and(|st| st.st_mode & SFlag::S_IFMT.bits() == SFlag::S_IFREG.bits());
        if regular {
            let _ = f.take(MAX_ACCOUNT_FILE).read_to_end(&mut bytes);
        }
    }
    // Lossy, not read_to_string: that keeps nothing of a file that is not all UTF-8 (a
    // Latin-1 gecos, or a character cut at the limit), and a numeric --user then ran
    // in group 0, root's, for want of its entry.
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A uid or gid from an account file. 4294967295 is (uid_t)-1, which setresuid
/// reads as "leave unchanged": never an id.
fn id_field(s: &str) -> Option<u32> {
    s.parse::<u32>().ok().filter(|n| *n != u32::MAX)
}

/// Looks `--user` up in the container's /etc/passwd and /etc/group. Numeric ids need
/// no entry; without one, the group is 0, as docker does.
pub fn resolve_user(user: Option<&User>) -> Result<Credentials> {
    resolve_user_in(
        user,
        &read_account_file("/etc/passwd"),
        &read_account_file("/etc/group"),
    )
}

pub fn resolve_user_in(user: Option<&User>, passwd: &str, group: &str) -> Result<Credentials> {
    let default = User {
        user: Id::Num(0),
        group: None,
    };
    let user = user.unwrap_or(&default);
    // name:password:uid:gid:gecos:home:shell
    let entries = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 7);
    let entry = entries.into_iter().find(|f| match &user.user {
        Id::Num(n) => id_field(f[2]) == Some(*n),
        Id::Name(name) => f[0] == name,
    });
    let (uid, primary, home, name) = match (&user.user, entry) {
        (_, Some(f)) => {
            let bad = |what: &str| {
                Error::new(format!(
                    "the container's /etc/passwd has a bad {what} for {}",
                    f[0]
                ))
            };
            let uid = id_field(f[2]).ok_or_else(|| bad("uid"))?;
            let gid = id_field(f[3]).ok_or_else(|| bad("gid"))?;
            (uid, gid, f[5].to_string(), Some(f[0].to_string()))
        }
        (Id::Num(n), None) => (*n, 0, if *n == 0 { "/root" } else { "/" }.to_string(), None),
        (Id::Name(name), None) => {
            return Err(Error::new(format!(
                "--user {name}: no such user in the container's /etc/passwd"
            ))
            .hint("give a numeric UID[:GID], or add the user to the rootfs"))
        }
    };
    let groups_of = group
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 4);
    let gid = match &user.group {
        None => primary,
        Some(Id::Num(g)) => *g,
        Some(Id::Name(g)) => groups_of
            .clone()
            .find(|f| f[0] == g)
            .and_then(|f| id_field(f[2]))
            .ok_or_else(|| {
                Error::new(format!(
                    "--user: no group {g_q} in the container's /etc/group",
                    g_q = crate::error::quoted(g)
                ))
                .hint("give a numeric GID, or add the group to the rootfs")
            })?,
    };
    // Supplementary groups: those that list the user by name, as login does.
    let mut groups = vec![gid];
    if let (Some(name), None) = (&name, &user.group) {
        for f in groups_of {
            if f[3].split(',').any(|m| m == name) {
                if let Some(g) = id_field(f[2]) {
                    if !groups.contains(&g) {
                        groups.push(g);
                    }
                }
            }
        }
    }
    Ok(Credentials {
        uid,
        gid,
        groups,
        home: if home.is_empty() { "/".into() } else { home },
    })
}

/// The last steps before execve, the same for a container's command and for `qing
/// exec`: the container's capabilities (`caps`), its user, no_new_privs, and the
/// seccomp filter.
pub fn confine(creds: &Credentials, caps: u64, seccomp: crate::seccomp::Choice) -> Result<()> {
    crate::capabilities::limit_bounding(caps)?;
    switch_user(creds)?;
    crate::debug::step!(
        "user {}, group {}, {} groups",
        creds.uid,
        creds.gid,
        creds.groups.len()
    );
    crate::capabilities::set(caps)?;
    crate::debug::step!("capabilities {caps:#x}");
    security::set_no_new_privs()?;
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    // Last: what follows is execve, and what the filter allows.
    crate::seccomp::install(seccomp, caps)
}

pub fn switch_user(c: &Credentials) -> Result<()> {
    crate::sys::set_ids(&c.groups, c.gid, c.uid)
        .map_err(|(what, e)| Error::sys(format!("{what} (user {}, group {})", c.uid, c.gid), e))
}

/// The command's environment: defaults for PATH, HOSTNAME and HOME, then the user's
/// --env entries, which win.
pub fn environment(user_env: &[CString], hostname: &str, home: &str) -> Vec<CString> {
    let mut env: Vec<CString> = Vec::with_capacity(user_env.len() + 3);
    let defaults = [
        ("PATH", DEFAULT_PATH),
        ("HOSTNAME", hostname),
        ("HOME", home),
    ];
    for (key, value) in defaults {
        let given = user_env.iter().any(|e| {
            e.to_bytes()
                .strip_prefix(key.as_bytes())
                .is_some_and(|r| r.first() == Some(&b'='))
        });
        if !given {
            if let Ok(c) = CString::new(format!("{key}={value}")) {
                env.push(c);
            }
        }
    }
    for e in user_env {
        let key = e
            .to_bytes()
            .split(|b| *b == b'=')
            .next()
            .unwrap_or_default();
        env.retain(|x| x.to_bytes().split(|b| *b == b'=').next() != Some(key));
        env.push(e.clone());
    }
    env
}

/// Finds the command as execvp would, in the environment's PATH, and executes it,
/// with clean signal state. Returns only on failure, with the exit code a shell
/// would give.
pub fn exec_command(argv: &[CString], env: &[CString], qing: &ExeIdentity) -> Error {
    let Some(name) = argv.first().map(|a| a.to_string_lossy().into_owned()) else {
        return Error::new("no command to run").with_exit_code(EXIT_NOT_FOUND);
    };
    crate::debug::step!("exec {name}");
    // Last, after every line of the trace: with SIGPIPE back to its default, a trace
    // into a closed pipe would end the command before it starts.
    crate::sys::reset_signals();
    let path_var = env
        .iter()
        .find_map(|e| e.to_str().ok()?.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH)
        .to_string();
    let candidates: Vec<PathBuf> = if name.contains('/') {
        vec![PathBuf::from(&name)]
    } else {
        path_var
            .split(':')
            .map(|d| Path::new(if d.is_empty() { "." } else { d }).join(&name))
            .collect()
    };
    let mut denied: Option<(PathBuf, Errno)> = None;
    for candidate in candidates {
        if !candidate.exists() {
            continue;
        }
        if let Err(e) = qing.refuse_if_qing(&candidate) {
            return e;
        }
        let Ok(path) = CString::new(candidate.as_os_str().as_encoded_bytes()) else {
            continue;
        };
        match execve(&path, argv, env) {
            Err(e @ (Errno::EACCES | Errno::EISDIR | Errno::EPERM)) => denied = Some((candidate, e)),
            Err(Errno::ENOENT) => {
                return Error::new(format!("{}: cannot execute: its interpreter or dynamic loader is missing from the container", candidate.display()))
                    .hint("check the #! line or that the rootfs has the libraries it was built against")
                    .with_exit_code(EXIT_NOT_FOUND)
            }
            Err(Errno::ENOEXEC) => {
                return Error::new(format!("{}: cannot execute: exec format error", candidate.display()))
                    .hint("is it built for this machine's architecture, or a script without #!?")
                    .with_exit_code(EXIT_CANNOT_EXECUTE)
            }
            Err(e) => return Error::sys(format!("execute {}", candidate.display()), e).with_exit_code(EXIT_CANNOT_EXECUTE),
            Ok(never) => match never {},
        }
    }
    match denied {
        Some((p, e)) => Error::sys(format!("{}: cannot execute", p.display()), e)
            .hint("make it executable, and check it is a file")
            .with_exit_code(EXIT_CANNOT_EXECUTE),
        None if name.contains('/') => Error::new(format!("{name}: no such file in the container"))
            .hint("check the command's path inside the rootfs")
            .with_exit_code(EXIT_NOT_FOUND),
        None => Error::new(format!(
            "{name}: command not found in the container (PATH={path_var})"
        ))
        .hint("check the command, or give its full path")
        .with_exit_code(EXIT_NOT_FOUND),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\nbroken\nnobody:x:65534:65534::/nonexistent:/bin/false\n";
    const GROUP: &str = "root:x:0:\naudio:x:29:app\napp:x:1000:\nstaff:x:50:other,app\n";

    #[test]
    fn default_user_is_root_with_roots_home() {
        let c = resolve_user_in(None, PASSWD, GROUP).unwrap();
        assert_eq!((c.uid, c.gid, c.home.as_str()), (0, 0, "/root"));
    }

    #[test]
    fn names_resolve_with_primary_and_supplementary_groups() {
        let u = User {
            user: Id::Name("app".into()),
            group: None,
        };
        let c = resolve_user_in(Some(&u), PASSWD, GROUP).unwrap();
        assert_eq!(
            c,
            Credentials {
                uid: 1000,
                gid: 1000,
                groups: vec![1000, 29, 50],
                home: "/home/app".into()
            }
        );
    }

    #[test]
    fn numeric_ids_need_no_entry_and_default_to_group_0() {
        let u = User {
            user: Id::Num(4242),
            group: None,
        };
        let c = resolve_user_in(Some(&u), PASSWD, GROUP).unwrap();
        assert_eq!((c.uid, c.gid, c.home.as_str()), (4242, 0, "/"));
        let u = User {
            user: Id::Num(1000),
            group: Some(Id::Name("audio".into())),
        };
        let c = resolve_user_in(Some(&u), PASSWD, GROUP).unwrap();
        assert_eq!((c.uid, c.gid, c.groups.clone()), (1000, 29, vec![29]));
    }

    #[test]
    fn an_image_cannot_name_the_id_that_means_unchanged() {
        let passwd = "evil:x:4294967295:0::/:/bin/sh\nbadgid:x:5:4294967295::/:/bin/sh\n";
        for name in ["evil", "badgid"] {
            let u = User {
                user: Id::Name(name.into()),
                group: None,
            };
            assert!(resolve_user_in(Some(&u), passwd, "").is_err(), "{name}");
        }
        let u = User {
            user: Id::Num(5),
            group: Some(Id::Name("g".into())),
        };
        assert!(resolve_user_in(Some(&u), "", "g:x:4294967295:\n").is_err());
    }

    #[test]
    fn unknown_names_are_errors_and_garbage_files_do_not_panic() {
        let u = User {
            user: Id::Name("ghost".into()),
            group: None,
        };
        assert!(resolve_user_in(Some(&u), PASSWD, GROUP).is_err());
        let u = User {
            user: Id::Num(1),
            group: Some(Id::Name("ghosts".into())),
        };
        assert!(resolve_user_in(Some(&u), "::::::\n:::\n", "::\n:::::\n").is_err());
    }

    #[test]
    fn environment_defaults_yield_to_user_entries_and_later_entries_win() {
        let user = [
            CString::new("PATH=/opt").unwrap(),
            CString::new("A=1").unwrap(),
            CString::new("A=2").unwrap(),
        ];
        let env = environment(&user, "box", "/root");
        let env: Vec<&str> = env.iter().map(|e| e.to_str().unwrap()).collect();
        assert_eq!(env, ["HOSTNAME=box", "HOME=/root", "PATH=/opt", "A=2"]);
    }
}
