//! What `ROOTFS` names, resolved and checked on the host before anything is created:
//! - the name of an installed template (DATA/templates/NAME.json);
//! - a directory, used as it is;
//! - a squashfs image: any file that starts with the squashfs magic;
//! - a manifest, NAME.json, which names its squashfs image or its directory.
//!
//! A manifest beside a directory or image (NAME.json next to NAME/ or NAME.squashfs)
//! belongs to it: the image's sha256 is checked against it before anything is mounted,
//! and its command, environment and working directory become the container's defaults.
//!
//! A squashfs image is bound read-only to a loop device here, on the host, from the
//! same descriptor that was hashed; it is mounted only inside the container's own
//! mount namespace, so the mount dies with the container, and the loop device (bound
//! with autoclear) with its last user.

use super::loopdev::{self, LoopDevice};
use super::resolve::fd_path;
use crate::error::{Context, Error, Result};
use crate::features::SQUASHFS;
use crate::template::store::Store;
use crate::template::{beside, verify, Defaults, Manifest};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sys::stat::{fstat, stat, FileStat, Mode, SFlag};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

pub enum Source {
    Directory(PathBuf),
    Squashfs {
        path: PathBuf,
        device: LoopDevice,
        /// For messages: the kernel may lack the image's compressor.
        compression: &'static str,
    },
}

pub struct Image {
    pub source: Source,
    pub defaults: Defaults,
}

const HINT: &str = "give a directory holding a root filesystem, a .squashfs image, a template \
manifest (.json), or the name of an installed template (see `qing templates`)";

pub fn open_image(rootfs: &str, store: &Store) -> Result<Image> {
    // A bare name is an installed template first; `./NAME` is always a path.
    if !rootfs.contains('/') {
        if let Some(manifest) = store.find(rootfs) {
            return from_manifest(Manifest::read(&manifest)?, store);
        }
    }
    let path = Path::new(rootfs);
    let st = match stat(path) {
        Ok(st) => st,
        Err(Errno::ENOENT) if !rootfs.contains('/') => {
            return Err(Error::new(format!(
                "rootfs {rootfs}: no template of that name is installed, and there is no such file or directory"
            ))
            .hint(HINT))
        }
        Err(Errno::ENOENT) => {
            return Err(
                Error::new(format!("rootfs {rootfs}: no such file or directory")).hint(HINT),
            )
        }
        Err(e) => return Err(Error::sys(format!("rootfs {rootfs}"), e).hint(HINT)),
    };
    if is(&st, SFlag::S_IFDIR) {
        let manifest = manifest_beside(path, &st, |m| m.directory.as_deref())?;
        return Ok(Image {
            source: Source::Directory(path.to_path_buf()),
            defaults: manifest.map(|m| m.defaults).unwrap_or_default(),
        });
    }
    if !is(&st, SFlag::S_IFREG) {
        return Err(Error::new(format!("rootfs {rootfs} is not a directory or a file")).hint(HINT));
    }
    if !SQUASHFS.built {
        return Err(
            Error::new(format!("rootfs {rootfs} is not a directory")).hint(
                "this qing was built without squashfs images and templates (feature squashfs): \
             give a directory",
            ),
        );
    }
    if path.extension().is_some_and(|x| x == "json") {
        return from_manifest(Manifest::read(path)?, store);
    }
    let manifest = manifest_beside(path, &st, |m| m.squashfs.as_deref())?;
    let device = squashfs(path, manifest.as_ref(), store)?;
    Ok(Image {
        source: device,
        defaults: manifest.map(|m| m.defaults).unwrap_or_default(),
    })
}

fn is(st: &FileStat, kind: SFlag) -> bool {
    st.st_mode & SFlag::S_IFMT.bits() == kind.bits()
}

/// A manifest names its squashfs image (preferred: it is verified) or its directory.
fn from_manifest(m: Manifest, store: &Store) -> Result<Image> {
    let missing = |what: &str, p: &Path| {
        Error::new(format!(
            "manifest {}: its {what} {} does not exist",
            m.path.display(),
            p.display()
        ))
        .hint("build the template again, or import it again with `qing import`")
    };
    let source = match (&m.squashfs, &m.directory) {
        (Some(image), _) if image.exists() => squashfs(image, Some(&m), store)?,
        (_, Some(dir)) if dir.is_dir() => Source::Directory(dir.clone()),
        (Some(image), _) => return Err(missing("squashfs image", image)),
        (None, Some(dir)) => return Err(missing("directory", dir)),
        (None, None) => return Err(Error::new("a manifest without an image")),
    };
    Ok(Image {
        source,
        defaults: m.defaults,
    })
}

/// The manifest beside `path`, if there is one that describes it (what `names` picks
/// from it is the same file). A manifest that is there but broken is an error. One
/// that describes something else is an error beside an image, whose verification must
/// never be skipped silently, and ignored beside a directory, which it gives only
/// defaults.
fn manifest_beside(
    path: &Path,
    st: &FileStat,
    names: impl Fn(&Manifest) -> Option<&Path>,
) -> Result<Option<Manifest>> {
    let manifest_path = beside(path);
    // Manifests are the templates' (feature squashfs): a minimal build runs a
    // directory as it is.
    if !SQUASHFS.built || !manifest_path.is_file() {
        return Ok(None);
    }
    let m = Manifest::read(&manifest_path).map_err(|e| match e.errno() {
        // Out of descriptors or memory is no fault of the manifest's.
        Some(Errno::EMFILE | Errno::ENFILE | Errno::ENOMEM) => e,
        _ => e.hint(format!(
            "a manifest beside {} describes it: fix the manifest, or move it away",
            path.display()
        )),
    })?;
    let same = names(&m)
        .and_then(|p| stat(p).ok())
        .is_some_and(|other| (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino));
    match (same, is(st, SFlag::S_IFDIR)) {
        (true, _) => Ok(Some(m)),
        (false, true) => Ok(None),
        (false, false) => Err(Error::new(format!(
            "manifest {} beside {} describes another image",
            manifest_path.display(),
            path.display()
        ))
        .hint("move the manifest away, or run the image it describes")),
    }
}

/// Opens, checks and verifies a squashfs image, and binds it to a loop device.
fn squashfs(path: &Path, manifest: Option<&Manifest>, store: &Store) -> Result<Source> {
    if !SQUASHFS.built {
        return Err(SQUASHFS.left_out(&format!("rootfs {}, a file", path.display())));
    }
    let file = crate::sys::open_fd(path, OFlag::O_RDONLY, 0).at("open rootfs", path)?;
    let st = fstat(&file).at("stat", path)?;
    let compression = check_superblock(&file, &st, path)?;
    if let Some(m) = manifest {
        if let Some(sha) = &m.sha256 {
            verify::verify(&file, path, &m.path, sha, &store.verified)?;
        }
    }
    let device = loopdev::attach(&file, path)?;
    Ok(Source::Squashfs {
        path: path.to_path_buf(),
        device,
        compression,
    })
}

/// A squashfs 4 superblock: the magic, the version, and no more bytes used than the
/// file has (a truncated copy is refused here, with or without a manifest).
fn check_superblock(file: &OwnedFd, st: &FileStat, path: &Path) -> Result<&'static str> {
    let mut sb = [0u8; 96];
    let n = nix::sys::uio::pread(file, &mut sb, 0).at("read", path)?;
    let u16_at = |o: usize| u16::from_le_bytes([sb[o], sb[o + 1]]);
    if n < sb.len() || &sb[..4] != b"hsqs" {
        return Err(Error::new(format!(
            "rootfs {} is not a directory, a squashfs image or a manifest",
            path.display()
        ))
        .hint(HINT));
    }
    if u16_at(28) != 4 {
        return Err(Error::new(format!(
            "{}: squashfs version {} (Linux mounts version 4)",
            path.display(),
            u16_at(28)
        ))
        .hint("rebuild it with mksquashfs 4"));
    }
    let mut used = [0u8; 8];
    used.copy_from_slice(&sb[40..48]);
    let used = u64::from_le_bytes(used);
    let size = u64::try_from(st.st_size).unwrap_or(0);
    if used > size {
        return Err(Error::new(format!(
            "{} is truncated: its superblock says {used} bytes, the file has {size}",
            path.display()
        ))
        .hint("copy or build the image again"));
    }
    Ok(match u16_at(20) {
        1 => "gzip",
        2 => "lzma",
        3 => "lzo",
        4 => "xz",
        5 => "lz4",
        6 => "zstd",
        _ => "an unknown compressor",
    })
}

impl Image {
    /// Descriptors the container's init must keep open until it has mounted the image.
    pub fn descriptors(&self) -> Vec<RawFd> {
        match &self.source {
            Source::Directory(_) => Vec::new(),
            Source::Squashfs { device, .. } => vec![device.fd.as_raw_fd()],
        }
    }

    /// For the trace: "a directory", "a squashfs image (xz)".
    pub fn kind(&self) -> String {
        match &self.source {
            Source::Directory(_) => "a directory".to_string(),
            Source::Squashfs { compression, .. } => format!("a squashfs image ({compression})"),
        }
    }

    /// For messages: the directory or image file.
    pub fn path(&self) -> &Path {
        match &self.source {
            Source::Directory(p) | Source::Squashfs { path: p, .. } => p,
        }
    }

    /// The image's tree, as a descriptor, from inside the container's mount namespace
    /// (overlayfs and bind mounts take only mounts of the caller's own namespace). A
    /// squashfs image is mounted at `mount_point` first.
    pub fn open_tree(&self, mount_point: &Path) -> Result<OwnedFd> {
        let dir = match &self.source {
            Source::Directory(dir) => dir.as_path(),
            Source::Squashfs {
                path,
                device,
                compression,
            } => {
                if !SQUASHFS.built {
                    return Err(SQUASHFS.left_out("a squashfs image"));
                }
                nix::unistd::mkdir(mount_point, Mode::from_bits_truncate(0o755))
                    .at("create", mount_point)?;
                crate::mount::mount_fs(
                    fd_path(&device.fd).as_str(),
                    mount_point,
                    "squashfs",
                    MsFlags::MS_RDONLY | MsFlags::MS_NODEV,
                    None,
                )
                .map_err(|e| {
                    Error::sys(
                        format!(
                            "mount squashfs {} ({})",
                            path.display(),
                            device.path.display()
                        ),
                        e,
                    )
                    .hint(format!(
                        "the kernel needs {} and the image's compressor, {compression} \
                         (see `qing check`)",
                        crate::kernel::SQUASHFS.name
                    ))
                })?;
                mount_point
            }
        };
        crate::sys::open_fd(dir, OFlag::O_PATH | OFlag::O_DIRECTORY, 0)
            .at("open rootfs", self.path())
    }
}
