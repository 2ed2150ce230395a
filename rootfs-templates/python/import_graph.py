"""import_graph.py APP SITE STDLIB DYNLOAD RULES TRIPLET OUT KEEP... -- the part of the
standard library one application reaches, for the python recipe's --app.

  APP      the app's directory, as it will be /app (its .py files are the roots)
  SITE     its installed packages (every module in them is a root: the packages go in
           whole, so whatever any of their modules imports must be there)
  STDLIB   the standard library's sources (usr/lib/python3.11 of the unpacked .debs)
  DYNLOAD  the extension modules beside it (lib-dynload, for the build machine's arch:
           the same modules as the target's, under another suffix)
  RULES    rootfs-templates/python/dynamic/: what is imported by a name no import
           statement shows (see cpython.txt there)
  TRIPLET  the target's multiarch name ({TRIPLET} in the rules)
  KEEP     modules of --keep

Writes OUT/stdlib.spec (an `=module` line for each source module to pack, for
pack_stdlib.py), OUT/dynload (one extension module name per line) and OUT/kept.json
(each of those, with the import that pulled it in), all sorted.

Run by the Debian python3.11 that byte-compiles the stdlib (the very version the
template ships), so modulefinder reads the imports as the target's interpreter parses
them. Built-in and frozen modules are in the interpreter binary and need no file; they
are followed for their imports but not listed.
"""
import importlib.machinery
import json
import modulefinder
import os
import sys

from pack_stdlib import frozen


# The standard library's modules for other platforms, which modulefinder would follow
# from the `if sys.platform == "win32":` branches of modules that are kept (asyncio,
# multiprocessing, subprocess...): never imported on Linux.
OTHER_PLATFORMS = [
    "asyncio.windows_events", "asyncio.windows_utils", "asyncio.proactor_events",
    "multiprocessing.popen_spawn_win32", "ctypes.wintypes", "ctypes._aix", "encodings.mbcs",
    "encodings.oem", "nturl2path", "_osx_support", "_aix_support", "_bootsubprocess",
]


# The standard library's tests and development tools: tests, debuggers, profilers,
# documentation, packaging. The stdlib's own modules import them in their self-tests
# (heapq's `if __name__ == "__main__":` imports doctest, multiprocessing.util imports
# test.support) and packages import them for their debuggers and test clients, none of
# which a service runs; nor does it need readline's line editing (code.interact and
# the interactive prompt import it), which brings libreadline and libtinfo. They are
# followed only from the app's own files (or --keep).
DEVELOPMENT = {
    "test", "unittest", "doctest", "pdb", "bdb", "pydoc", "pydoc_data", "profile",
    "cProfile", "pstats", "trace", "tracemalloc", "timeit", "tabnanny", "pyclbr",
    "py_compile", "compileall", "modulefinder", "pickletools", "symtable", "idlelib",
    "tkinter", "turtle", "turtledemo", "lib2to3", "distutils", "ensurepip", "venv",
    "zipapp", "_lsprof", "_testcapi", "_testinternalcapi", "_testbuffer", "_testclinic",
    "_testmultiphase", "_testimportmultiple", "_xxtestfuzz", "_ctypes_test",
    "xxlimited", "xxlimited_35", "readline", "rlcompleter",
}


class Finder(modulefinder.ModuleFinder):
    """A ModuleFinder that remembers, for each module, the first module that imported it."""

    def __init__(self, path, app):
        super().__init__(path, excludes=OTHER_PLATFORMS)
        self.why = {}
        self.app = app
        self.skipped = []
        self.not_followed = set()

    def import_hook(self, name, caller=None, fromlist=None, level=-1):
        if (level <= 0 and name.partition(".")[0] in DEVELOPMENT and caller is not None
                and not (caller.__file__ or "").startswith(self.app + os.sep)):
            self.not_followed.add(name.partition(".")[0])
            raise ImportError(f"{name}: a development tool, followed from the app only")
        before = set(self.modules)
        try:
            return super().import_hook(name, caller, fromlist, level)
        finally:
            by = caller.__name__ if caller is not None else None
            for new in set(self.modules) - before:
                self.why.setdefault(new, by)

    def find_module(self, name, path, parent=None):
        try:
            return super().find_module(name, path, parent)
        except AttributeError:
            # modulefinder cannot load a namespace package (no __init__.py: its spec has
            # no loader). Its files are roots of their own, by path.
            raise ImportError(f"{name} is a namespace package") from None

    def load_module(self, fqname, fp, pathname, file_info):
        try:
            return super().load_module(fqname, fp, pathname, file_info)
        except SyntaxError as e:
            if pathname.startswith(self.app + os.sep):
                sys.exit(f"import_graph.py: {pathname} does not compile: {e}")
            # A package's file that is not Python 3.11 (a template, a Python 2 leftover):
            # nothing imports it as it is, so it has no imports to follow.
            self.skipped.append(pathname)
            return self.add_module(fqname)


def module_name(root, path):
    """The dotted name of the .py file `path` under `root`, or None where a directory on
    the way is not a regular package (no __init__.py): nothing imports it by that name."""
    rel = os.path.relpath(path, root)[:-3].split(os.sep)
    if rel[-1] == "__init__":
        rel.pop()
    for n in range(1, len(rel)):
        if not os.path.isfile(os.path.join(root, *rel[:n], "__init__.py")):
            return None
    return ".".join(rel) if rel and all(p.isidentifier() for p in rel) else None


def python_files(root):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.endswith(".dist-info"))
        for f in sorted(filenames):
            if f.endswith(".py"):
                yield os.path.join(dirpath, f)


def read_rules(rules_dir, triplet):
    """[(trigger, module, where)]: `trigger: module...` lines of every RULES/*.txt."""
    rules = []
    for f in sorted(os.listdir(rules_dir)):
        if not f.endswith(".txt"):
            continue
        with open(os.path.join(rules_dir, f)) as text:
            for number, line in enumerate(text, 1):
                line = line.split("#", 1)[0].strip()
                if not line:
                    continue
                trigger, sep, modules = line.partition(":")
                if not sep or not trigger.strip():
                    sys.exit(f"import_graph.py: {f}:{number}: want `MODULE: MODULE...` or `*: MODULE...`")
                for m in modules.replace("{TRIPLET}", triplet).split():
                    rules.append((trigger.strip(), m, f"dynamic/{f}"))
    return rules


def main():
    if len(sys.argv) < 8:
        sys.exit("usage: import_graph.py APP SITE STDLIB DYNLOAD RULES TRIPLET OUT KEEP...")
    app, site, stdlib, dynload, rules_dir, triplet, out = sys.argv[1:8]
    keep = sys.argv[8:]
    finder = Finder([app, site, stdlib, dynload], app)
    # Where a module of the app or of a package was read from, for the reasons.
    shown = {}

    def follow(root, path, shown_as):
        """Follows the file `path` under `root` as a root: by its dotted name where it
        has one, else (a script, a namespace package's file) by its path."""
        name = module_name(root, path)
        if name is None or (root == app and os.path.basename(path) in ("__main__.py", "main.py", "app.py")):
            # By its path, as a module of that name (load_file would name it after the
            # file: a namespace package's types.py would hide the stdlib's types).
            try:
                with open(path, "rb") as fp:
                    finder.load_module(shown_as, fp, path, (".py", "rb", modulefinder._PY_SOURCE))
            except ImportError:
                pass  # a relative import out of a file read by path: followed as the rest
        else:
            try:
                finder.import_hook(name)
            except ImportError:
                pass  # what it imports was followed as far as it could be
            if root == app:
                shown[name] = shown_as

    def add(name, why):
        """Follows the module `name` as a root; False if it is nowhere to be found."""
        try:
            finder.import_hook(name)
        except ImportError:
            return False
        for new in [name] + [name.rsplit(".", n)[0] for n in range(1, name.count(".") + 1)]:
            if finder.why.get(new) is None:
                finder.why[new] = why
        return name in finder.modules

    for path in python_files(app):
        follow(app, path, "/app/" + os.path.relpath(path, app))
    if os.path.isdir(site):
        for path in python_files(site):
            follow(site, path, os.path.relpath(path, site))
    for name in keep:
        if not add(name, "--keep"):
            sys.exit(f"import_graph.py: --keep {name}: no such module in the standard library, the app or its packages")

    # What no import statement shows, until nothing more is added.
    rules = read_rules(rules_dir, triplet)
    done = set()
    while True:
        due = [(t, m, w) for t, m, w in rules
               if (t, m) not in done and (t == "*" or t in finder.modules)]
        if not due:
            break
        for trigger, module, where in due:
            done.add((trigger, module))
            why = where if trigger == "*" else f"{where}, for {trigger}"
            if module.startswith("_sysconfigdata_"):
                # Named after the target: not among the build machine's modules.
                finder.modules.setdefault(module, modulefinder.Module(module, os.path.join(stdlib, module + ".py")))
                finder.why.setdefault(module, why)
            elif not add(module, why):
                sys.exit(f"import_graph.py: {where} names {module}, which the standard library does not have")

    spec, extensions, kept = [], [], []
    for name, module in sorted(finder.modules.items()):
        path = module.__file__
        if not path or frozen(name):
            continue  # built in, or frozen into the interpreter
        if path.startswith(stdlib + os.sep) and path.endswith(".py"):
            spec.append(f"={name}\n")
        elif path.startswith(dynload + os.sep) and path.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)):
            extensions.append(name + "\n")
        else:
            continue  # the app's or a package's own
        why = finder.why.get(name)
        if why is None or why in finder.modules:
            why = "import in " + shown.get(why, why or "the app")
        kept.append({"module": name, "why": why})
    with open(os.path.join(out, "stdlib.spec"), "w") as f:
        f.writelines(spec)
    with open(os.path.join(out, "dynload"), "w") as f:
        f.writelines(extensions)
    with open(os.path.join(out, "kept.json"), "w") as f:
        json.dump(kept, f, indent=1)
    for path in finder.skipped:
        print(f"import_graph.py: skipped {path} (not Python 3.11)", file=sys.stderr)


if __name__ == "__main__":
    main()
