"""compile_tree.py TREE DFILE_PREFIX -- writes the bytecode of every module under TREE
beside it, as __pycache__/NAME.cpython-311.pyc, the place CPython 3.11 looks first.

For an app's template with --bytecode: its root is read-only and bytecode is never
written at run time (PYTHONDONTWRITEBYTECODE), so without this every start compiles
the app and its packages again, which on a board takes longer than running them.
The sources stay: tracebacks show their lines and inspect.getsource works. Compiled
at optimize=0, as the sources are (click's help is its docstrings; asserts stay),
unchecked hash-based (pyc.py): the pycs are used whatever the files' dates, and two
builds give the same bytes (one process, sorted order, PYTHONHASHSEED=0). A file that
is not valid Python 3.11 (a template for another version, a test fixture) gets no
bytecode, as pip's compileall leaves it, and is listed on stderr.

Run by the template's own CPython version for the build machine (recipe.sh's
hostpython); co_filename is DFILE_PREFIX/<path below TREE>.
"""
import os
import sys

from pyc import hash_pyc, require_fixed_seed

CACHE_TAG = sys.implementation.cache_tag  # cpython-311


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: compile_tree.py TREE DFILE_PREFIX")
    tree, prefix = sys.argv[1], sys.argv[2].rstrip("/")
    require_fixed_seed("compile_tree.py")
    sources = []
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for name in filenames:
            path = os.path.join(dirpath, name)
            if name.endswith(".py") and not os.path.islink(path) and os.path.isfile(path):
                sources.append(os.path.relpath(path, tree))
    skipped = []
    for rel in sorted(sources):
        with open(os.path.join(tree, rel), "rb") as f:
            source = f.read()
        try:
            pyc = hash_pyc(source, f"{prefix}/{rel}", 0)
        except (SyntaxError, ValueError):
            skipped.append(rel)
            continue
        directory, name = os.path.split(os.path.join(tree, rel))
        cache = os.path.join(directory, "__pycache__")
        os.makedirs(cache, mode=0o755, exist_ok=True)
        out = os.path.join(cache, f"{name[:-3]}.{CACHE_TAG}.pyc")
        with open(out + ".new", "wb") as f:
            f.write(pyc)
        os.chmod(out + ".new", 0o644)
        os.replace(out + ".new", out)
    for rel in skipped:
        print(f"compile_tree.py: {rel} is not valid Python {sys.version_info[0]}.{sys.version_info[1]}: no bytecode for it",
              file=sys.stderr)
    print(f"compile_tree.py: {len(sources) - len(skipped)} modules compiled under {prefix}", file=sys.stderr)


if __name__ == "__main__":
    main()
