"""pack_stdlib.py ZIP DFILE_PREFIX SPEC SRC... -- byte-compiles the kept part of the
standard library and writes it, sourceless, into one zip file (python311.zip).

Run by a CPython of the very version the template ships (recipe.sh runs the Debian
package's own python3.11 for the build machine's architecture): bytecode is the same on
every architecture. Two builds give a byte-identical zip: files go in a fixed order,
one process compiles them all (marshal flags objects for back-references by their
reference counts, which depend on what the process holds), entries carry a fixed
date, and PYTHONHASHSEED=0 takes the one random input (string hashes) out of the
compiler's process for good measure (3.11's marshal already writes frozensets sorted).

SPEC holds words `+name` (keep the module or package `name`, with everything under
it), `-name` (drop it even though a parent package is kept), `-name.*` (drop what is
under package `name` unless named itself), `=name` (keep the module `name` itself, a
package's __init__ only: an app's import graph lists each module) and `+*` (keep what
no rule names); the longest matching name wins. Frozen modules (os, site, codecs,
importlib.util...: the interpreter imports those from its binary, not from files) are
never packed. SRC trees
(usr/lib/python3.11 of the unpacked .debs) are merged, the first one holding a file
wins. Symlinked files are skipped (Debian links one _sysconfigdata name to the other,
and sitecustomize.py to /etc).

Each .pyc is made by pyc.py (unchecked hash-based: never checked against a source,
which the template does not ship). Files are compiled with optimize=2 (no docstrings,
no asserts; 15-20% smaller): a sourceless .pyc in a zip is loaded whatever the
interpreter's -O level, and CPython's stdlib supports running under -OO. co_filename is
DFILE_PREFIX/<path>.py, the path the source would have.
Entries are deflated (level 9): bytecode shrinks about 2.5x, which keeps the unpacked
directory small; the cost is that squashfs cannot compress them further.
"""
import _imp
import os
import sys
import zipfile

from pyc import hash_pyc, require_fixed_seed

# 1980-01-01, the earliest date a zip entry can hold: no time from the build leaks in.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def frozen(module):
    """Whether the interpreter has `module` frozen into its binary (importlib's
    bootstrap under the names it is frozen as)."""
    return _imp.is_frozen({"importlib._bootstrap": "_frozen_importlib",
                           "importlib._bootstrap_external": "_frozen_importlib_external"}.get(module, module))


def read_spec(path):
    """(rules, exact): {name: keep?} from the +/- words, and the set of `=` names."""
    rules, exact = {}, set()
    with open(path) as f:
        for line in f:
            for word in line.split("#", 1)[0].split():
                if word[0] not in "+-=" or len(word) < 2:
                    sys.exit(f"pack_stdlib.py: bad spec word {word!r} (want +name, -name or =name)")
                if word[0] == "=":
                    exact.add(word[1:])
                else:
                    rules[word[1:]] = word[0] == "+"
    return rules, exact


def kept(module, rules, exact):
    """Whether `module` (dotted name) is kept: named exactly, or the rule for its longest
    matching prefix, or the `*` rule."""
    if module in exact:
        return True
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        name = ".".join(parts[:n])
        if n < len(parts) and name + ".*" in rules:
            return rules[name + ".*"]
        if name in rules:
            return rules[name]
    return rules.get("*", False)


def sources(trees):
    """{relative path of a .py: absolute path}, first tree wins, symlinks skipped."""
    found = {}
    for tree in trees:
        for dirpath, dirnames, filenames in os.walk(tree):
            dirnames[:] = [d for d in dirnames if d != "lib-dynload" and d != "__pycache__"]
            for name in filenames:
                path = os.path.join(dirpath, name)
                if name.endswith(".py") and not os.path.islink(path):
                    found.setdefault(os.path.relpath(path, tree), path)
    return found


def main():
    if len(sys.argv) < 5:
        sys.exit("usage: pack_stdlib.py ZIP DFILE_PREFIX SPEC SRC...")
    out, prefix, spec, trees = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    require_fixed_seed("pack_stdlib.py")
    rules, exact = read_spec(spec)
    files = sources(trees)
    modules = {}
    for rel in files:
        parts = rel[:-3].split("/")
        if parts[-1] == "__init__":
            parts.pop()
        modules[rel] = ".".join(parts)
    named = [r.removesuffix(".*") for r in rules if r != "*"] + sorted(exact)
    unknown = [name for name in named if not any(
        m == name or m.startswith(name + ".") for m in modules.values())]
    if unknown:
        sys.exit("pack_stdlib.py: the spec names modules the stdlib does not have: " + " ".join(sorted(unknown)))
    with zipfile.ZipFile(out + ".new", "w") as z:
        for rel in sorted(files):
            if not kept(modules[rel], rules, exact) or frozen(modules[rel]):
                continue
            with open(files[rel], "rb") as f:
                source = f.read()
            pyc = hash_pyc(source, f"{prefix}/{rel}", 2)
            info = zipfile.ZipInfo(rel[:-3] + ".pyc", ZIP_DATE)
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, pyc, compresslevel=9)
    os.replace(out + ".new", out)


if __name__ == "__main__":
    main()
