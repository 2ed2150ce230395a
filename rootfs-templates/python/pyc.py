"""pyc.py -- one description of how the templates' bytecode is made, for pack_stdlib.py
(the standard library's zip) and compile_tree.py (an app's own files and packages).

Each .pyc is an unchecked hash-based pyc (PEP 552): it embeds a hash of its source
instead of an mtime, and the interpreter never checks it against a source, so a
template's bytecode does not depend on when it was built and no start of a read-only
template compiles anything. co_filename is the path the source has in the template,
so tracebacks name the usual files and lines.

Reproducible only in one process that compiles every file of a build in a fixed
order, with PYTHONHASHSEED=0: marshal flags objects for back-references by their
reference counts, which depend on what the process holds (`require_fixed_seed`).
"""
import importlib._bootstrap_external as bootstrap_external
import importlib.util
import os
import sys


def require_fixed_seed(tool):
    """Stops `tool` unless string hashes are fixed (no random input to the compiler)."""
    if os.environ.get("PYTHONHASHSEED") != "0":
        sys.exit(f"{tool}: run with PYTHONHASHSEED=0 (no random input to the compiler)")


def hash_pyc(source, dfile, optimize):
    """The bytes of an unchecked hash-based .pyc of `source` (bytes), its code named
    `dfile`, compiled at `optimize` (0: as the source is; 2: no docstrings, no asserts)."""
    code = compile(source, dfile, "exec", dont_inherit=True, optimize=optimize)
    return bytes(bootstrap_external._code_to_hash_pyc(code, importlib.util.source_hash(source), False))
