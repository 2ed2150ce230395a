//! Templates: a root filesystem described by a manifest, NAME.json, that sits beside
//! its squashfs image (NAME.squashfs) or its directory (NAME/), as
//! rootfs-templates/build.sh writes them. The manifest gives the image's sha256, which
//! qing checks before it mounts the image, and the command, environment and working
//! directory a container of it runs with by default.
//!
//! Installed templates live in DATA/templates (`store`); `verify` hashes images once
//! and remembers the result.

pub mod store;
pub mod verify;

use crate::error::{Error, Result};
use crate::features::SQUASHFS;
use crate::json;
use std::path::{Path, PathBuf};

/// Manifests are small; anything larger is not one.
const MAX_MANIFEST_BYTES: u64 = 64 * 1024;

pub struct Manifest {
    pub path: PathBuf,
    pub name: String,
    pub arch: String,
    /// The squashfs image, resolved beside the manifest; needs `sha256`.
    pub squashfs: Option<PathBuf>,
    pub sha256: Option<[u8; 32]>,
    /// The directory form of the same tree, resolved beside the manifest.
    pub directory: Option<PathBuf>,
    pub defaults: Defaults,
}

/// What a container of the template runs when the user does not say.
#[derive(Default)]
pub struct Defaults {
    pub command: Vec<String>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
    /// The manifest they came from, for messages about bad values.
    pub source: Option<PathBuf>,
}

impl Manifest {
    pub fn read(path: &Path) -> Result<Manifest> {
        if !SQUASHFS.built {
            return Err(SQUASHFS.left_out("a template manifest"));
        }
        let doc = json::read_object(path, MAX_MANIFEST_BYTES, "manifest")?;
        Manifest::from_doc(&doc)
    }

    /// The manifest in `doc`, checked; its files are resolved beside `doc.path`.
    pub fn from_doc(doc: &json::Doc) -> Result<Manifest> {
        let path = doc.path.as_path();
        let bad = |what: String| {
            Error::new(format!("manifest {}: {what}", path.display()))
                .hint("rebuild the template with rootfs-templates/build.sh, or fix the manifest")
        };
        let name = doc
            .string("name")?
            .ok_or_else(|| bad("no \"name\"".into()))?;
        if !crate::name::is_valid(&name) {
            return Err(bad(format!(
                "{name_q} is not a valid template name",
                name_q = crate::error::quoted(&name)
            )));
        }
        let beside = |key: &str| -> Result<Option<PathBuf>> {
            let Some(file) = doc.string(key)? else {
                return Ok(None);
            };
            // A plain file name keeps templates relocatable and a manifest from
            // pointing anywhere else on the host.
            if file.is_empty() || file.contains('/') || file == "." || file == ".." {
                return Err(bad(format!(
                    "{key} {file_q} must be a file name in the manifest's directory",
                    file_q = crate::error::quoted(&file)
                )));
            }
            let dir = path.parent().unwrap_or(Path::new("."));
            Ok(Some(dir.join(file)))
        };
        let squashfs = beside("squashfs")?;
        let directory = beside("directory")?;
        if squashfs.is_none() && directory.is_none() {
            return Err(bad(
                "names neither a \"squashfs\" nor a \"directory\"".into()
            ));
        }
        let sha256 = match doc.string("sha256")? {
            Some(hex) => Some(parse_sha256(&hex).ok_or_else(|| {
                bad(format!(
                    "sha256 {hex_q} is not 64 hexadecimal digits",
                    hex_q = crate::error::quoted(&hex)
                ))
            })?),
            None => None,
        };
        if squashfs.is_some() && sha256.is_none() {
            return Err(bad("names a squashfs image but gives no \"sha256\"".into()));
        }
        Ok(Manifest {
            path: path.to_path_buf(),
            arch: doc.string("arch")?.unwrap_or_default(),
            squashfs,
            sha256,
            directory,
            defaults: Defaults {
                command: doc.strings("command")?.unwrap_or_default(),
                env: doc.strings("env")?.unwrap_or_default(),
                workdir: doc.string("workdir")?,
                source: Some(path.to_path_buf()),
            },
            name,
        })
    }
}

/// The manifest at `path` as it is installed in the store: its image is NAME.squashfs
/// beside it, and it has no directory form there.
pub fn installed_manifest(path: &Path, name: &str) -> Result<String> {
    let mut doc = json::read_object(path, MAX_MANIFEST_BYTES, "manifest")?;
    doc.set("squashfs", json::string(&format!("{name}.squashfs")));
    doc.remove("directory");
    Ok(doc.into_json())
}

/// Where the manifest of an image sits: NAME.json beside NAME.squashfs or NAME/.
pub fn beside(image: &Path) -> PathBuf {
    // components() drops a trailing '/': "dir/" and "dir" name the same directory.
    let path = image.components().as_path();
    if path.extension().is_some_and(|x| x == "squashfs") {
        return path.with_extension("json");
    }
    let mut name = path.as_os_str().to_os_string();
    name.push(".json");
    PathBuf::from(name)
}

pub fn parse_sha256(hex: &str) -> Option<[u8; 32]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks(2).enumerate() {
        let digit = |b: u8| (b as char).to_digit(16);
        out[i] = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
    }
    Some(out)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_hex_round_trips_and_rejects_bad_digits() {
        let h = "00ff10a0".repeat(8);
        assert_eq!(hex(&parse_sha256(&h).unwrap()), h);
        assert!(parse_sha256(&h.to_uppercase()).is_some());
        for bad in ["", "0", &"g".repeat(64), &"0".repeat(63), &"é".repeat(32)] {
            assert!(parse_sha256(bad).is_none(), "{bad} should be rejected");
        }
    }
}
