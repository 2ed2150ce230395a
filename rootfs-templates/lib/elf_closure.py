#!/usr/bin/env python3
"""elf_closure.py ROOT TRIPLET SOURCE... -- copies into ROOT the shared libraries that
the ELF files already in ROOT really link, found in the SOURCE trees (unpacked .debs).

It reads ELF headers itself (PT_INTERP, DT_NEEDED, DT_RUNPATH/DT_RPATH), for any class
and byte order, so it works for a foreign architecture without running anything. A
library is looked for where the dynamic loader of a Debian system would look: the
RUNPATH (with $ORIGIN), then /lib/TRIPLET, /usr/lib/TRIPLET, /lib, /usr/lib. Symlinks
on the way (libfoo.so.1 -> libfoo.so.1.2.3) are kept as symlinks. Prints one line per
library copied; exits 1 naming any library no SOURCE has.
"""
import os
import shutil
import struct
import sys

PT_INTERP, PT_DYNAMIC = 3, 2
DT_NEEDED, DT_STRTAB, DT_RPATH, DT_RUNPATH = 1, 5, 15, 29


def read_elf(path):
    """(interpreter, needed, runpaths) of an ELF file, or None if it is not one."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or len(data) < 64:
        return None
    is64 = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    if is64:
        phoff, = struct.unpack_from(end + "Q", data, 32)
        phentsize, phnum = struct.unpack_from(end + "HH", data, 54)
    else:
        phoff, = struct.unpack_from(end + "I", data, 28)
        phentsize, phnum = struct.unpack_from(end + "HH", data, 42)
    segments = []
    for i in range(phnum):
        o = phoff + i * phentsize
        if is64:
            p_type, _, p_offset, p_vaddr, _, p_filesz = struct.unpack_from(end + "IIQQQQ", data, o)
        else:
            p_type, p_offset, p_vaddr, _, p_filesz = struct.unpack_from(end + "IIIII", data, o)
        segments.append((p_type, p_offset, p_vaddr, p_filesz))

    def file_offset(vaddr):
        # Map a virtual address to a file offset through the PT_LOAD segments.
        for p_type, p_offset, p_vaddr, p_filesz in segments:
            if p_type == 1 and p_vaddr <= vaddr < p_vaddr + p_filesz:
                return vaddr - p_vaddr + p_offset
        return None

    interp = None
    entries = []
    for p_type, p_offset, _, p_filesz in segments:
        if p_type == PT_INTERP:
            interp = data[p_offset:p_offset + p_filesz].split(b"\0")[0].decode()
        elif p_type == PT_DYNAMIC:
            size = 16 if is64 else 8
            fmt = end + ("qQ" if is64 else "iI")
            for o in range(p_offset, p_offset + p_filesz, size):
                tag, val = struct.unpack_from(fmt, data, o)
                if tag == 0:
                    break
                entries.append((tag, val))
    strtab = next((file_offset(v) for t, v in entries if t == DT_STRTAB), None)

    def string(off):
        start = strtab + off
        return data[start:data.index(b"\0", start)].decode()

    needed = [string(v) for t, v in entries if t == DT_NEEDED and strtab is not None]
    runpaths = []
    for t, v in entries:
        if t in (DT_RPATH, DT_RUNPATH) and strtab is not None:
            runpaths += [p for p in string(v).split(":") if p]
    return interp, needed, runpaths


def find(rel, sources):
    """The first SOURCE tree holding path `rel` (absolute, inside a system)."""
    for src in sources:
        candidate = os.path.join(src, rel.lstrip("/"))
        if os.path.lexists(candidate):
            return src
    return None


def copy_path(rel, src, root, copied):
    """Copies `rel` from the tree `src` into `root`, following and keeping symlinks."""
    seen = 0
    while rel not in copied and seen < 40:
        copied.add(rel)
        source = os.path.join(src, rel.lstrip("/"))
        target = os.path.join(root, rel.lstrip("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if os.path.islink(source):
            link = os.readlink(source)
            if not os.path.lexists(target):
                os.symlink(link, target)
            rel = os.path.normpath(os.path.join(os.path.dirname(rel), link))
            src = find(rel, [src]) or src
            seen += 1
            continue
        if not os.path.lexists(target):
            shutil.copy2(source, target)
        print(rel)
        return rel
    return rel


def main():
    if len(sys.argv) < 4:
        sys.exit("usage: elf_closure.py ROOT TRIPLET SOURCE...")
    root, triplet, sources = sys.argv[1], sys.argv[2], sys.argv[3:]
    default_dirs = [f"/lib/{triplet}", f"/usr/lib/{triplet}", "/lib", "/usr/lib"]
    todo = []
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                todo.append("/" + os.path.relpath(path, root))
    copied, missing, scanned = set(), [], set()
    while todo:
        rel = todo.pop()
        if rel in scanned:
            continue
        scanned.add(rel)
        try:
            info = read_elf(os.path.join(root, rel.lstrip("/")))
        except (OSError, struct.error, ValueError, IndexError, UnicodeDecodeError):
            info = None
        if info is None:
            continue
        interp, needed, runpaths = info
        wanted = [interp] if interp else []
        origin = os.path.dirname(rel)
        dirs = [p.replace("$ORIGIN", origin).replace("${ORIGIN}", origin) for p in runpaths] + default_dirs
        for lib in needed:
            candidates = [lib] if "/" in lib else [os.path.join(d, lib) for d in dirs]
            hit = next(((c, find(c, [root])) for c in candidates if find(c, [root])), None)
            if hit is None:
                hit = next(((c, find(c, sources)) for c in candidates if find(c, sources)), None)
            if hit is None:
                missing.append(f"{lib} (needed by {rel})")
                continue
            wanted.append(hit[0])
        for want in wanted:
            src = find(want, sources)
            if os.path.lexists(os.path.join(root, want.lstrip("/"))) and os.path.realpath(
                os.path.join(root, want.lstrip("/"))
            ).startswith(os.path.realpath(root)):
                real = os.path.relpath(os.path.realpath(os.path.join(root, want.lstrip("/"))), os.path.realpath(root))
                todo.append("/" + real)
                continue
            if src is None:
                missing.append(f"{want} (needed by {rel})")
                continue
            todo.append(copy_path(want, src, root, copied))
    if missing:
        sys.exit("elf_closure.py: not found in any source: " + ", ".join(sorted(set(missing))))


if __name__ == "__main__":
    main()
