//! Installed templates: DATA/templates/NAME.json beside NAME.squashfs. `qing import`
//! copies a built template in, checking its sha256 on the way; `qing templates` lists
//! what is there; `qing run NAME` finds it here.

use super::{hex, verify, Manifest};
use crate::error::{Context, Error, Result};
use crate::json;
use nix::fcntl::{Flock, FlockArg};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

pub struct Store {
    /// DATA/templates: the installed manifests and images.
    pub dir: PathBuf,
    /// DATA/verified: which images were hashed and found good (see `verify`).
    pub verified: PathBuf,
}

impl Store {
    pub fn new(data: &Path) -> Store {
        Store {
            dir: data.join("templates"),
            verified: data.join("verified"),
        }
    }

    /// The manifest of the installed template `name`, if there is one.
    pub fn find(&self, name: &str) -> Option<PathBuf> {
        if !crate::features::SQUASHFS.built {
            return None;
        }
        crate::name::is_valid(name).then_some(())?;
        let path = self.dir.join(format!("{name}.json"));
        path.is_file().then_some(path)
    }

    /// Installed manifests, by name.
    fn manifests(&self) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        found.sort();
        found
    }
}

/// `qing templates [--json] [--verify]`. With --verify every image is hashed now, and
/// the status is 1 when any is corrupt.
pub fn list(store: &Store, as_json: bool, verify_now: bool) -> i32 {
    let mut rows = Vec::new();
    let mut corrupt = false;
    for path in store.manifests() {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (arch, bytes, state) = match Manifest::read(&path) {
            Err(_) => (String::new(), 0, "broken manifest"),
            Ok(m) => {
                let state = image_state(store, &m, verify_now);
                let bytes = m
                    .squashfs
                    .as_deref()
                    .and_then(|p| std::fs::metadata(p).ok())
                    .map_or(0, |md| md.len());
                (m.arch, bytes, state)
            }
        };
        corrupt |= state != "verified" && verify_now;
        rows.push((name, arch, bytes, state));
    }
    if as_json {
        let items = rows
            .iter()
            .map(|(name, arch, bytes, state)| {
                json::object(vec![
                    ("name", json::string(name)),
                    ("arch", json::string(arch)),
                    ("bytes", json::number(*bytes)),
                    ("verified", json::Value::Bool(*state == "verified")),
                    ("state", json::string(state)),
                ])
            })
            .collect::<Vec<_>>();
        crate::error::out!("{}", json::to_string(&json::Value::Array(items)));
    } else {
        crate::error::out!("{:<24} {:<8} {:>10}  STATE", "NAME", "ARCH", "SIZE");
        for (name, arch, bytes, state) in &rows {
            crate::error::out!("{name:<24} {arch:<8} {:>10}  {state}", human_size(*bytes));
        }
    }
    i32::from(corrupt)
}

fn image_state(store: &Store, m: &Manifest, verify_now: bool) -> &'static str {
    let (Some(image), Some(sha)) = (&m.squashfs, &m.sha256) else {
        return "directory";
    };
    let Ok(file) = crate::sys::open_file(image, nix::fcntl::OFlag::O_RDONLY, 0) else {
        return "missing image";
    };
    if verify::remembered(&file, sha, &store.verified) {
        return "verified";
    }
    if !verify_now {
        return "not verified";
    }
    match verify::verify(&file, image, &m.path, sha, &store.verified) {
        Ok(()) => "verified",
        Err(_) => "CORRUPT",
    }
}

/// 7.4M, 812K, 96: sizes as people read them in a table.
fn human_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{}.{}M", b >> 20, ((b % (1 << 20)) * 10) >> 20),
        b if b >= 1 << 10 => format!("{}K", b >> 10),
        b => b.to_string(),
    }
}

/// `qing import SOURCE`: SOURCE is a manifest, or a squashfs image with its manifest
/// beside it. The image is copied in and hashed in the same pass, and only a copy
/// that matches the manifest is put in place.
pub fn import(store: &Store, source: &str) -> Result<i32> {
    let hint =
        "give the NAME.json that rootfs-templates/build.sh wrote, with NAME.squashfs beside it";
    let source = Path::new(source);
    let manifest_path = if source.extension().is_some_and(|x| x == "json") {
        source.to_path_buf()
    } else {
        super::beside(source)
    };
    if !manifest_path.is_file() {
        return Err(Error::new(format!(
            "import {}: no manifest {}",
            source.display(),
            manifest_path.display()
        ))
        .hint(hint));
    }
    let m = Manifest::read(&manifest_path)?;
    let (Some(image), Some(sha)) = (&m.squashfs, &m.sha256) else {
        return Err(Error::new(format!(
            "import {}: the manifest names no squashfs image",
            manifest_path.display()
        ))
        .hint(
            "installed templates are squashfs images: build one with rootfs-templates/build.sh",
        ));
    };
    let mut input = crate::sys::open_file(image, nix::fcntl::OFlag::O_RDONLY, 0)
        .at("open", image)
        .map_err(|e| e.hint(hint))?;

    crate::state::private_dir(&store.dir)?;
    // One import at a time: the lock is on the directory, so no lock file stays behind.
    let dir = crate::sys::open_file(
        &store.dir,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY,
        0,
    )
    .at("open", &store.dir)?;
    let dir = Flock::lock(dir, FlockArg::LockExclusive)
        .map_err(|(_, e)| Error::sys(format!("lock {}", store.dir.display()), e))?;
    let image_to = store.dir.join(format!("{}.squashfs", m.name));
    let manifest_to = store.dir.join(format!("{}.json", m.name));
    let temp = Temp(
        store
            .dir
            .join(format!(".{}.squashfs.{}", m.name, std::process::id())),
    );
    let temp_manifest = Temp(temp.0.with_extension("json"));

    let actual = copy_hashing(&mut input, image, &temp.0)?;
    if &actual != sha {
        return Err(Error::new(format!(
            "import {}: its sha256 is {}, the manifest {} says {}",
            image.display(),
            hex(&actual),
            manifest_path.display(),
            hex(sha)
        ))
        .hint("the image is corrupt or was changed after it was built: build it again"));
    }
    // The installed manifest names the installed image, whatever the source called it,
    // and no directory: only the image is installed.
    let text = super::installed_manifest(&manifest_path, &m.name)?;
    write_synced(&temp_manifest.0, text.as_bytes())?;
    std::fs::rename(&temp.0, &image_to).at("install", &image_to)?;
    std::fs::rename(&temp_manifest.0, &manifest_to).at("install", &manifest_to)?;
    let _ = dir.sync_all();
    if let Ok(installed) = crate::sys::open_file(&image_to, nix::fcntl::OFlag::O_RDONLY, 0) {
        verify::remember(&installed, sha, &store.verified);
    }
    crate::error::out!(
        "imported {} ({}, {}) into {}",
        m.name,
        if m.arch.is_empty() { "?" } else { &m.arch },
        human_size(std::fs::metadata(&image_to).map_or(0, |md| md.len())),
        store.dir.display()
    );
    Ok(0)
}

/// A file removed when dropped unless it was renamed away.
struct Temp(PathBuf);

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn copy_hashing(input: &mut File, from: &Path, to: &Path) -> Result<[u8; 32]> {
    let mut out = crate::state::private_file(to, nix::fcntl::OFlag::O_EXCL).at("create", to)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = input.read(&mut buf).at("read", from)?;
        let Some(chunk) = buf.get(..n) else { break };
        if chunk.is_empty() {
            break;
        }
        hasher.update(chunk);
        out.write_all(chunk).at("write", to)?;
    }
    out.sync_all().at("sync", to)?;
    Ok(hasher.finalize().into())
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = crate::state::private_file(path, nix::fcntl::OFlag::O_TRUNC).at("create", path)?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .at("write", path)
}
