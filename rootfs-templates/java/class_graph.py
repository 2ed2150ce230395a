"""The JDK modules a Java app uses, from its class graph.

    JMOD=HOST_JDK/bin/jmod python3 class_graph.py JDEPS_OUTPUT JMODS KEPT_JSON [--keep MODULE]... APP.jar [LIB.jar]...

JDEPS_OUTPUT is what `jdeps -verbose:class -filter:none --multi-release 17
--ignore-missing-deps APP.jar LIB.jar...` printed: one line per class-to-class edge,
each naming where the target lives (a jar of the app, a JDK module, or "not found").

`jdeps --print-module-deps` answers for whole jars: every class in them counts, used or
not. Jetty's jetty-util then needs java.desktop (12 MB of jmod) for a leak preventer that
only calls AWT if it is configured, and H2 needs it for its tray-icon console. Here the
classes count only when the app can reach them, from:
  - every class of APP.jar (the app's own code);
  - every service provider named in META-INF/services of any of the jars, since
    ServiceLoader (JDBC drivers, Jetty's own plug-ins) loads them by name;
and the JDK modules those classes use, plus the modules those modules require
(`jmod describe`, as jlink resolves them), plus --keep, plus the modules the JDK loads by
name (RULES). A class loaded by a computed name (Class.forName of a string from a
config) is not seen: --keep names its module, and build.sh's --check run shows the need.

Prints the modules, comma-separated, for jlink --add-modules; writes KEPT_JSON: a list
of {"module", "why"}, sorted by module.
"""
import json
import os
import subprocess
import sys
import zipfile

# Modules the JDK loads by name, which no class graph shows: the EC provider, which
# java.security lists, without which TLS fails with most servers (ECDHE, EC keys).
RULES = {"jdk.crypto.ec": "TLS: the EC provider, which java.security loads by name"}

# The host JDK's jmod tool (the same feature release as JMODS), for `jmod describe`.
JMOD = os.environ.get("JMOD", "")


def fail(message):
    sys.exit("rootfs-templates/java/class_graph.py: " + message)


def class_name(entry):
    """The class an entry of a jar holds, or None. Multi-release entries count as
    their base name (jdeps --multi-release 17 reads the right version)."""
    if not entry.endswith(".class") or entry.endswith("module-info.class"):
        return None
    if entry.startswith("META-INF/versions/"):
        parts = entry.split("/", 3)
        if len(parts) < 4 or not parts[2].isdigit() or int(parts[2]) > 17:
            return None
        entry = parts[3]
    return entry[: -len(".class")].replace("/", ".")


def read_jar(path):
    """(its classes, the service providers it names)."""
    try:
        with zipfile.ZipFile(path) as jar:
            classes = {c for c in map(class_name, jar.namelist()) if c}
            providers = set()
            for entry in jar.namelist():
                if entry.startswith("META-INF/services/") and not entry.endswith("/"):
                    text = jar.read(entry).decode("utf-8", "replace")
                    for line in text.splitlines():
                        line = line.split("#", 1)[0].strip()
                        if line:
                            providers.add((line, "a service provider in " + os.path.basename(path)))
            return classes, providers
    except (OSError, zipfile.BadZipFile) as e:
        fail(f"{path}: not a jar ({e})")


def read_edges(jdeps_output, jars):
    """class -> [(target, module or None)]: a target in a jar of the app has no module."""
    edges = {}
    with open(jdeps_output, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.startswith("   ") or " -> " not in line:
                continue
            words = line.split()
            if len(words) < 4 or words[1] != "->":
                continue
            source, target, where = words[0], words[2], " ".join(words[3:])
            if where == "not found":
                continue
            if where in jars:
                module = None
            elif where.endswith(")") and "(" in where:  # JDK internal API (java.base)
                module = where[where.rindex("(") + 1 : -1]
            else:
                module = words[3]
            edges.setdefault(source, []).append((target, module))
    return edges


def requires(jmods, module):
    """The modules MODULE requires (not `requires static`, which jlink does not add)."""
    path = os.path.join(jmods, module + ".jmod")
    if not os.path.isfile(path):
        fail(f"{module}: no such module in the JDK ({path})")
    out = subprocess.run([JMOD, "describe", path], capture_output=True, text=True)
    if out.returncode != 0:
        fail(f"jmod describe {path} failed: {out.stderr.strip()}")
    needed = []
    for line in out.stdout.splitlines():
        words = line.split()
        if words[:1] == ["requires"] and len(words) >= 2 and "static" not in words[2:]:
            needed.append(words[1])
    return needed


def main():
    args = sys.argv[1:]
    if len(args) < 4:
        fail("usage: class_graph.py JDEPS_OUTPUT JMODS KEPT_JSON [--keep MODULE]... APP.jar [LIB.jar]...")
    if not os.access(JMOD, os.X_OK):
        fail("set JMOD to the host JDK's jmod tool")
    jdeps_output, jmods, kept_json = args[:3]
    args = args[3:]
    keep = []
    while args[:1] == ["--keep"] and len(args) >= 2:
        keep.append(args[1])
        args = args[2:]
    if not args:
        fail("no APP.jar")
    for module in keep:
        if not os.path.isfile(os.path.join(jmods, module + ".jmod")):
            fail(f"--keep {module}: no such module in the JDK (no {module}.jmod in {jmods})")
    app, libs = args[0], args[1:]

    app_classes, roots = read_jar(app)
    roots = {(c, "a class of " + os.path.basename(app)) for c in app_classes} | roots
    for lib in libs:
        roots |= read_jar(lib)[1]
    edges = read_edges(jdeps_output, {os.path.basename(j) for j in [app] + libs})

    # Breadth first from the roots, in a fixed order, so that each module's reason is
    # the same from one build to the next: the first class that used it.
    why = {}
    seen = set()
    queue = sorted(roots)
    seen.update(name for name, _ in queue)
    i = 0
    while i < len(queue):
        name, _ = queue[i]
        i += 1
        for target, module in sorted(edges.get(name, [])):
            if module is not None:
                why.setdefault(module, f"{name} uses {target}")
            elif target not in seen:
                seen.add(target)
                queue.append((target, ""))

    why.setdefault("java.base", "every class")
    for module, reason in RULES.items():
        why.setdefault(module, reason)
    for module in keep:
        why.setdefault(module, "--keep")

    # What jlink adds: the modules the kept ones require, named here with the reason.
    pending = sorted(why)
    while pending:
        module = pending.pop(0)
        for needed in requires(jmods, module):
            if needed not in why:
                why[needed] = "required by " + module
                pending.append(needed)

    with open(kept_json, "w", encoding="utf-8") as f:
        json.dump([{"module": m, "why": why[m]} for m in sorted(why)], f, indent=2)
    print(",".join(sorted(why)))


if __name__ == "__main__":
    main()
