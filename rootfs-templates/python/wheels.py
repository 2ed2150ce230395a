"""wheels.py: the wheel half of wheels.sh (stdlib only, Python 3.11).

  wheels.py platforms ARCH            the platform tags a wheel for ARCH may carry, one
                                      a line (wheels.sh passes them to pip download)
  wheels.py install ARCH TARGET WHEEL...
                                      checks every WHEEL, then unpacks them all into
                                      TARGET (a new or empty directory)

The target is CPython 3.11 on Debian 12 (glibc 2.36). A wheel fits when one of the tags
its file name carries is one that pip on that target accepts (PEP 425, PEP 600), and its
ELF files are built for ARCH (a wheel named linux_x86_64 but holding ARM code does not).

Unpacking is pip's, minus what a template has no use for: the import packages and
modules and the *.dist-info go into TARGET, NAME.data/purelib and NAME.data/platlib are
merged into it, the other NAME.data parts (scripts, headers, data) are dropped, and each
.dist-info/RECORD is rewritten to what was installed. Every file's hash is checked
against the wheel's RECORD. Deterministic: entries in sorted order, modes 0644 (0755
when the wheel marks a file executable), directories 0755, every mtime
SOURCE_DATE_EPOCH (or 0). A hostile wheel cannot write outside TARGET: entries with an
absolute path, a '..' or '\\' in it, or that are symlinks or special files are refused,
and so are two wheels that would write different content to one path.
"""
import base64
import csv
import hashlib
import io
import os
import re
import stat
import sys
import zipfile

# Debian's name of each architecture, and what its wheels call it (PEP 425 platform
# machine). mipsel: the index has no manylinux wheels for it, and Python calls a
# mipsel machine "mips" as it does a big-endian one: only pure wheels fit, and locally
# built linux_mips wheels whose ELF files are little-endian MIPS.
MACHINES = {"amd64": "x86_64", "arm64": "aarch64", "armhf": "armv7l", "mipsel": "mips"}
# ELF identity per architecture: (EI_CLASS: 1 = 32-bit, 2 = 64-bit; EI_DATA: 1 = little
# endian; e_machine).
ELF = {"amd64": (2, 1, 62), "arm64": (2, 1, 183), "armhf": (1, 1, 40), "mipsel": (1, 1, 8)}
ELF_MACHINE_NAMES = {62: "x86-64", 183: "AArch64", 40: "ARM", 8: "MIPS", 3: "i386", 243: "RISC-V"}
GLIBC_MINOR = 36  # Debian 12
PYTHON_MINOR = 11  # CPython 3.11


def die(message):
    sys.exit(f"wheels.sh: {message}")


def platforms(arch):
    """The platform tags pip accepts for ARCH on glibc 2.36, most specific first."""
    m = MACHINES[arch]
    if arch == "mipsel":
        return [f"linux_{m}"]
    # glibc 2.36 runs wheels built for any older glibc; on x86 manylinux goes back to
    # glibc 2.5 (manylinux1), elsewhere to 2.17 (manylinux2014).
    oldest = 5 if m == "x86_64" else 17
    tags = [f"manylinux_2_{minor}_{m}" for minor in range(GLIBC_MINOR, oldest - 1, -1)]
    tags.append(f"manylinux2014_{m}")
    if m == "x86_64":
        tags += [f"manylinux2010_{m}", f"manylinux1_{m}"]
    return tags + [f"linux_{m}"]


def fits_python(py, abi):
    """Whether a (python tag, abi tag) pair runs on CPython 3.11."""
    minors = range(0, PYTHON_MINOR + 1)
    if abi == f"cp3{PYTHON_MINOR}":
        return py == f"cp3{PYTHON_MINOR}"
    if abi == "abi3":  # the stable ABI: built for 3.x runs on every later 3.y
        return py in {f"cp3{n}" for n in range(2, PYTHON_MINOR + 1)}
    if abi == "none":
        return py in {"py3", f"cp3{PYTHON_MINOR}"} | {f"py3{n}" for n in minors}
    return False


WHEEL_NAME = re.compile(r"^(?P<dist>[^-]+)-(?P<version>[^-]+)(-(?P<build>\d[^-]*))?"
                        r"-(?P<py>[^-]+)-(?P<abi>[^-]+)-(?P<plat>[^-]+)\.whl$")


def parse_name(path):
    m = WHEEL_NAME.match(os.path.basename(path))
    if not m:
        die(f"{path}: not a wheel file name (NAME-VERSION-PYTHON-ABI-PLATFORM.whl)")
    return m


def check_tags(path, arch):
    """Refuses a wheel none of whose tags fits CPython 3.11 on glibc 2.36 of ARCH."""
    m = parse_name(path)
    accepted = set(platforms(arch)) | {"any"}
    pairs = [(py, abi) for py in m["py"].split(".") for abi in m["abi"].split(".")]
    plats = m["plat"].split(".")
    if not any(fits_python(py, abi) for py, abi in pairs):
        die(f"{os.path.basename(path)} is built for {m['py']}-{m['abi']}, not CPython 3.11: "
            "use a wheel for cp311 (or abi3, or a pure py3 one)")
    if not any(p in accepted for p in plats):
        tags = platforms(arch)
        fitting = (f"pure wheels (any) or locally built {tags[-1]} ones" if len(tags) == 1 else
                   f"any, {tags[-1]} or {tags[0].replace('_2_36_', '_2_X_')} for X <= 36")
        die(f"{os.path.basename(path)} is built for {m['plat']}, not {arch} with glibc 2.36 "
            f"(which takes {fitting}): use a wheel built for {arch}")


def check_elf(path, name, head, arch):
    """Refuses an ELF member that is not code for ARCH."""
    if head[:4] != b"\x7fELF":
        return
    want = ELF[arch]
    ei_class, ei_data = head[4], head[5]
    order = "little" if ei_data == 1 else "big"
    machine = int.from_bytes(head[18:20], order)
    if (ei_class, ei_data, machine) != want:
        what = ELF_MACHINE_NAMES.get(machine, f"machine {machine}")
        bits = {1: "32-bit", 2: "64-bit"}.get(ei_class, "?-bit")
        endian = {1: "little-endian", 2: "big-endian"}.get(ei_data, "?-endian")
        die(f"{os.path.basename(path)}: {name} is {bits} {endian} {what} code, not {arch}: "
            f"use a wheel built for {arch}")


def safe_path(wheel, name):
    """The entry's path as components, or refusal when it could leave the target."""
    if "\\" in name or "\0" in name or name.startswith("/"):
        die(f"{os.path.basename(wheel)}: entry {name!r} has an absolute or odd path: refused")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts or not parts:
        die(f"{os.path.basename(wheel)}: entry {name!r} leaves the install directory: refused")
    return parts


def record_hashes(z, dist_info, wheel):
    """{path: (algorithm, digest)} from the wheel's RECORD."""
    try:
        text = z.read(f"{dist_info}/RECORD").decode()
    except KeyError:
        die(f"{os.path.basename(wheel)} has no {dist_info}/RECORD: not a valid wheel")
    hashes = {}
    for row in csv.reader(io.StringIO(text)):
        if row and len(row) >= 2 and row[1]:
            algorithm, _, digest = row[1].partition("=")
            hashes[row[0]] = (algorithm, digest)
    return hashes


def b64digest(algorithm, data):
    return base64.urlsafe_b64encode(hashlib.new(algorithm, data).digest()).rstrip(b"=").decode()


def plan(wheel, arch):
    """What installing WHEEL writes: [(target path, mode, bytes)], all checked."""
    check_tags(wheel, arch)
    m = parse_name(wheel)
    base = os.path.basename(wheel)
    try:
        z = zipfile.ZipFile(wheel)
    except (zipfile.BadZipFile, OSError) as e:
        die(f"{base}: cannot read it as a wheel ({e})")
    with z:
        tops = {i.filename.split("/", 1)[0] for i in z.infolist()}
        infos = [t for t in tops if t.endswith(".dist-info")]
        if len(infos) != 1:
            die(f"{base}: has {len(infos)} .dist-info directories, not one: not a valid wheel")
        dist_info = infos[0]
        data_dir = dist_info[: -len(".dist-info")] + ".data"
        wheel_meta = z.read(f"{dist_info}/WHEEL").decode(errors="replace") if f"{dist_info}/WHEEL" in z.namelist() else ""
        version = re.search(r"^Wheel-Version:\s*(\d+)", wheel_meta, re.M)
        if not version or version.group(1) != "1":
            die(f"{base}: {dist_info}/WHEEL has no Wheel-Version 1.x: not a wheel this installer knows")
        hashes = record_hashes(z, dist_info, wheel)
        files = []
        for info in sorted(z.infolist(), key=lambda i: i.filename):
            parts = safe_path(wheel, info.filename)
            kind = stat.S_IFMT(info.external_attr >> 16)
            if info.is_dir():
                continue
            if kind not in (0, stat.S_IFREG):
                what = "a symlink" if kind == stat.S_IFLNK else "not a regular file"
                die(f"{base}: entry {info.filename!r} is {what}: refused")
            if parts[0] == data_dir:
                # NAME.data/purelib and platlib hold import packages; the rest (scripts,
                # headers, data) has no place in a template.
                if len(parts) < 3 or parts[1] not in ("purelib", "platlib"):
                    continue
                dest = parts[2:]
            else:
                dest = parts
            if dest[0] == dist_info and dest[1:] in (["RECORD"], ["RECORD.jws"], ["RECORD.p7s"]):
                continue
            data = z.read(info)
            if info.filename in hashes:
                algorithm, digest = hashes[info.filename]
                if algorithm not in hashlib.algorithms_guaranteed or algorithm in ("md5", "sha1"):
                    die(f"{base}: RECORD hashes {info.filename} with {algorithm!r}: refused")
                if b64digest(algorithm, data) != digest:
                    die(f"{base}: {info.filename} does not match its hash in RECORD: the wheel is corrupt")
            check_elf(wheel, info.filename, data[:20], arch)
            mode = 0o755 if (info.external_attr >> 16) & 0o111 else 0o644
            files.append(("/".join(dest), mode, data))
        # RECORD as pip writes it: the installed files, each with its hash and size.
        lines = io.StringIO()
        writer = csv.writer(lines, lineterminator="\n")
        record = f"{dist_info}/RECORD"
        for path, _, data in sorted(files):
            writer.writerow([path, "sha256=" + b64digest("sha256", data), len(data)])
        writer.writerow([record, "", ""])
        files.append((record, 0o644, lines.getvalue().encode()))
    return m["dist"], files


def normalized(dist):
    return re.sub(r"[-_.]+", "-", dist).lower()


def install(arch, target, wheels):
    if os.path.lexists(target) and (not os.path.isdir(target) or os.listdir(target)):
        die(f"{target} exists and is not an empty directory")
    # Everything is checked before anything is written.
    by_dist, writes = {}, {}
    for wheel in sorted(wheels, key=os.path.basename):
        dist, files = plan(wheel, arch)
        other = by_dist.setdefault(normalized(dist), wheel)
        if other != wheel:
            die(f"{os.path.basename(other)} and {os.path.basename(wheel)} are two versions of "
                f"{dist}: keep one")
        for path, mode, data in files:
            if path in writes and writes[path][2] != data:
                die(f"{os.path.basename(writes[path][0])} and {os.path.basename(wheel)} both "
                    f"install {path}, with different content: keep one")
            writes[path] = (wheel, mode, data)
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH") or 0)
    os.makedirs(target, mode=0o755, exist_ok=True)
    dirs = set()
    for path in sorted(writes):
        _, mode, data = writes[path]
        parts = path.split("/")
        for n in range(1, len(parts)):
            d = os.path.join(target, *parts[:n])
            if d not in dirs:
                if not os.path.isdir(d) or os.path.islink(d):
                    os.mkdir(d, 0o755)
                dirs.add(d)
        dest = os.path.join(target, *parts)
        # O_EXCL | O_NOFOLLOW: never through a path that is already there.
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(dest, mode)
        os.utime(dest, (epoch, epoch))
    for d in sorted(dirs, reverse=True) + [target]:
        os.chmod(d, 0o755)
        os.utime(d, (epoch, epoch))
    names = sorted({os.path.basename(w).split("-")[0] for w in wheels})
    print(f"wheels.sh: installed {len(names)} distributions for {arch}: {' '.join(names)}",
          file=sys.stderr)


def main():
    args = sys.argv[1:]
    if len(args) == 2 and args[0] == "platforms" and args[1] in MACHINES:
        print("\n".join(platforms(args[1])))
    elif len(args) >= 4 and args[0] == "install" and args[1] in MACHINES:
        install(args[1], args[2], args[3:])
    else:
        sys.exit("usage: wheels.py platforms ARCH | wheels.py install ARCH TARGET WHEEL... "
                 f"(ARCH: {' '.join(MACHINES)})")


if __name__ == "__main__":
    main()
