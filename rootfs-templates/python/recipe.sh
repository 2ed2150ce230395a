# rootfs-templates/python/recipe.sh: sourced by ../build.sh (which provides $arch, $work,
# $here, deb, unpack, epoch_from, base_layout, ca_bundle, closure, strip_elf, triplet, die).
#
# CPython 3.11 from Debian 12 (python3.11-minimal, libpython3.11-minimal,
# libpython3.11-stdlib), trimmed to what network services use:
#   /usr/bin/python3.11 (python3 -> python3.11): Debian links libpython statically and
#       builds ~60 modules in (_socket, select, _sha256, _md5, zlib, pyexpat, unicodedata,
#       _datetime, _pickle, _struct, binascii, array, math, ...), see STDLIB_SPEC below;
#   /usr/lib/python311.zip: the kept stdlib, byte-compiled without sources (first entry
#       of python's default sys.path, found without any configuration);
#   /usr/lib/python3.11/lib-dynload: the kept extension modules (not loadable from a zip);
#   their shared libraries (libc, libm, libssl/libcrypto, libsqlite3, libz, libexpat;
#       libatomic on mipsel) by the ELF closure, plus libgcc_s (dlopen'ed by glibc), all
#       stripped;
#   /etc/ssl/certs/ca-certificates.crt, linked from /usr/lib/ssl where OpenSSL looks;
#   /app/service.py.
# amd64: 20.7 MB unpacked, 8.3 MB squashfs (limits: 20 and 8 MiB); 17.5 MB of it are Debian's ELF files
# (python3.11 6.8, libcrypto 4.7, libc 1.9, libsqlite3 1.4, libm 0.9, libssl 0.7, ...).
# Reproducible: the bytecode is made by the Debian python3.11 of the build machine's
# architecture (same version as the target's), with PYTHONHASHSEED=0 and hash-based pycs,
# and the zip entries carry no build time (see pack_stdlib.py).

# shellcheck shell=sh disable=SC2154,SC2034  # arch, work, here: set by build.sh; TEMPLATE_*: read by it

# The options of build.sh this recipe takes.
RECIPE_OPTIONS="full app requirements wheels keep bytecode command"
#
# --full: the whole standard library (FULL_SPEC) and every extension module but
#   CPython's tests, with their C libraries (LIB_PACKAGES).
# --app DIR: a template for one application: DIR as /app, its packages (--requirements
#   or --wheels, through wheels.sh) in /usr/lib/python3/dist-packages (on sys.path when
#   it exists, as Debian's python has it), and of the standard library only what the
#   import graph of the app and its packages reaches (import_graph.py), plus what
#   dynamic/*.txt and --keep add; extension modules bring their C libraries. The
#   manifest's "kept" lists each module with the import that pulled it in. The default
#   command runs DIR/__main__.py (as `python3 /app`), else main.py, else app.py.
# --bytecode (with --app): the bytecode of /app's and the packages' modules, beside
#   their sources (compile_tree.py), so that a start of the read-only template
#   compiles nothing; the stdlib's is in its zip either way.

# Extension modules kept from lib-dynload (by module name):
#   _ssl, _hashlib: ssl; hashlib's OpenSSL algorithms, pbkdf2_hmac and scrypt (libcrypto
#     is there for ssl anyway); _sqlite3: sqlite3; _json: json's C scanner and encoder;
#   _asyncio: asyncio's Future and Task in C; _contextvars: contextvars (asyncio,
#     decimal); resource: rlimits and rusage (no fallback); termios: tty, pty and
#     pyserial (a board's UART); mmap; _multiprocessing, _posixshmem: multiprocessing
#     and process pools; _ctypes (+libffi, 180 KB): ctypes, which drivers and
#     bindings to C libraries use; _zoneinfo: zoneinfo's C cache.
# Dropped, with what still works without them:
#   _decimal (311 KB): decimal runs on _pydecimal (56 KB in the zip; same API, slower);
#   _queue, _typing: queue and typing have pure-Python versions of what they hold;
#   _uuid (+libuuid): uuid1 uses the time and a random node, uuid4 os.urandom;
#   _bz2 (+libbz2), _lzma (+liblzma), _crypt (+libcrypt), _dbm, _curses*, readline
#   (+ncurses), nis (+libnsl, libtirpc): their C libraries, for formats and terminals
#   services rarely need; _codecs_* and _multibytecodec (CJK codecs, 600 KB),
#   audioop, ossaudiodev, _lsprof, _xxsubinterpreters, xxlimited*, _ctypes_test,
#   _test* (CPython's own tests).
DYNLOAD_KEEP="_asyncio _contextvars _ctypes _hashlib _json _multiprocessing _posixshmem _sqlite3 _ssl _zoneinfo mmap resource termios"

# The stdlib kept in python311.zip: +name keeps a module or package (with all under it),
# -name drops a part of a kept package, -name.* drops what a package holds unless named;
# anything not named is dropped. pack_stdlib.py fails on a name the stdlib does not
# have, and check_modules.py imports every module of the zip inside the container, so a
# kept module that needs a dropped one shows up. About 2.4 MB for ~330 modules.
# pack_stdlib.py never packs what the binary has deep-frozen (Python 3.11 imports those,
# not files): abc, codecs, io, os, site, stat, posixpath, ntpath, genericpath,
# _collections_abc, _sitebuiltins, runpy, zipimport, importlib._bootstrap*,
# importlib.util, importlib.machinery (check_modules.py proves they are frozen; only
# `-X frozen_modules=off` would miss them).
# Dropped on purpose:
#   tests and tools: test, unittest (70 KB, the last to go to stay within 8 MiB of
#     squashfs: tests run on the build machine, not the board), doctest, pdb, bdb,
#     pydoc, pydoc_data, profile, cProfile, pstats, trace, tracemalloc, pickletools,
#     modulefinder, pyclbr, symtable, tabnanny, compileall, py_compile, cmd,
#     rlcompleter, idlelib, turtle, venv, zipapp, ensurepip (help() needs pydoc),
#     wsgiref.validate (a development middleware);
#   needing a dropped extension: curses, dbm, shelve, bz2, lzma, crypt, readline;
#   deprecated or removed in later Pythons: imp, asynchat, asyncore, smtpd, cgi, cgitb,
#     imghdr, sndhdr, aifc, sunau, wave, chunk, nntplib, telnetlib, pipes, xdrlib, uu,
#     mailcap, msilib;
#   less used by services, to stay within the sizes: ftplib (urllib's ftp:// too),
#     imaplib, poplib, mailbox, xmlrpc, xml.dom, xml.sax (xml.etree and
#     xml.parsers.expat stay), webbrowser, filecmp, antigravity, this;
#   time-zone data: zoneinfo is there but finds no zones (no /usr/share/zoneinfo, 1.7 MB
#     as a tree); datetime.timezone covers UTC and fixed offsets, and the tzdata wheel
#     (or a volume on /usr/share/zoneinfo) brings the zones to an app that needs them;
#   other platforms: nturl2path, _osx_support, _aix_support, asyncio's Windows and
#     proactor loops; pure-Python copies of built-ins: _pyio, _py_abc; Debian's
#     distutils shim and sitecustomize.py (it looks for apport).
# In encodings only the codecs for UTF-8/16/32, ASCII, Latin-1, cp1252, iso8859-15,
# cp437 (zip file names), IDNA and punycode (ssl and socket encode host names with
# them) and the bytes-to-bytes ones stay; the other ~90 single-byte and the CJK ones go.
STDLIB_SPEC='
+__future__ +_compat_pickle +_compression +_markupbase +_pydecimal +_strptime
+_threading_local +_weakrefset
+argparse +ast +asyncio +base64 +bisect +calendar +collections +concurrent
+configparser +contextlib +contextvars +copy +copyreg +csv +dataclasses +datetime
+decimal +dis +email +encodings +enum +fnmatch +fractions +functools +getopt +getpass
+gettext +glob +graphlib +gzip +hashlib +heapq +hmac +html +http +importlib +inspect
+ipaddress +json +keyword +linecache +locale +logging +mimetypes +netrc +numbers
+opcode +operator +pathlib +pickle +pkgutil +platform +pprint +queue +quopri +random
+re +reprlib +secrets +selectors +shlex +shutil +signal +smtplib +socket +socketserver
+sqlite3 +sre_compile +sre_constants +sre_parse +ssl +statistics +string +stringprep
+struct +subprocess +tempfile +textwrap +threading +token +tokenize
+tomllib +traceback +types +typing +urllib +uuid +warnings +weakref +xml +zipfile
+code +codeop +colorsys +ctypes +difflib +fileinput +multiprocessing +optparse +plistlib
+pty +sched +sysconfig +tarfile +timeit +tty +wsgiref +zoneinfo
-ctypes._aix -ctypes.wintypes -multiprocessing.popen_spawn_win32 -wsgiref.validate
-asyncio.__main__ -asyncio.proactor_events -asyncio.windows_events
-asyncio.windows_utils -xml.dom -xml.sax
-encodings.*
+encodings.aliases +encodings.ascii +encodings.latin_1
+encodings.utf_8 +encodings.utf_8_sig +encodings.utf_16 +encodings.utf_16_be
+encodings.utf_16_le +encodings.utf_32 +encodings.utf_32_be +encodings.utf_32_le
+encodings.utf_7 +encodings.idna +encodings.punycode +encodings.raw_unicode_escape
+encodings.unicode_escape +encodings.charmap +encodings.cp1252 +encodings.cp437
+encodings.iso8859_15 +encodings.base64_codec +encodings.hex_codec
+encodings.quopri_codec +encodings.zlib_codec +encodings.rot_13 +encodings.undefined
'

# --full: everything but CPython's tests (test), turtle (needs tkinter, which Debian
# packages apart with IDLE: neither is in libpython3.11-stdlib), the __hello__ samples
# of frozen modules, Debian's distutils stub (one of distutils' modules: the rest is in
# python3-distutils; sitecustomize.py, a link to /etc, is skipped as every link is).
FULL_SPEC='+* -test -turtle -__hello__ -__phello__ -_distutils_system_mod -distutils'
# ... and every extension module but the tests': _ctypes_test, _test*, xxlimited*,
# _xxtestfuzz.
FULL_DYNLOAD_DROP='_ctypes_test _test* xxlimited* _xxtestfuzz'

# Where the ELF closure finds the C libraries: every library an extension module of
# libpython3.11-stdlib links, so that any selection finds its own (the closure copies
# only what the kept ELF files link). libatomic1: libcrypto links it on mipsel (no
# 64-bit atomics in hardware).
LIB_PACKAGES="libc6 libatomic1 zlib1g libexpat1 libssl3 libsqlite3-0 libffi8 libbz2-1.0
liblzma5 libuuid1 libncursesw6 libtinfo6 libreadline8 libgdbm6 libgdbm-compat4
libdb5.3 libnsl2 libtirpc3 libcrypt1 libgssapi-krb5-2 libkrb5-3 libk5crypto3
libkrb5support0 libcom-err2 libkeyutils1"

recipe_build() {
    root=$1
    TEMPLATE_COMMAND='["/usr/bin/python3", "/app/service.py"]'
    # PYTHONDONTWRITEBYTECODE: the root may be read-only, and /app's own .pyc would only
    # be written into the container's tree. PYTHONUTF8: UTF-8 for files, pipes and file
    # names (PEP 540). There is no LANG: glibc's C.UTF-8 is not built in but a 360 KB
    # locale file that the template leaves out, and with LANG=C.UTF-8
    # locale.setlocale(LC_ALL, "") would fail; in the C locale Python switches to UTF-8
    # mode by itself, PYTHONUTF8=1 only says so.
    TEMPLATE_ENV='["PATH=/usr/local/bin:/usr/bin:/bin", "PORT=8080", "PYTHONUTF8=1", "PYTHONDONTWRITEBYTECODE=1"]'
    TEMPLATE_WORKDIR=/app

    trip=$(triplet "$arch")
    py=$(unpack "$(deb "$arch" python3.11-minimal)")
    libmin=$(unpack "$(deb "$arch" libpython3.11-minimal)")
    libstd=$(unpack "$(deb "$arch" libpython3.11-stdlib)")
    bin=$py/usr/bin/python3.11
    [ -f "$bin" ] || die "python3.11-minimal for $arch has no usr/bin/python3.11"
    epoch_from "$bin"
    libgcc=$(unpack "$(deb "$arch" libgcc-s1)")/lib/$trip/libgcc_s.so.1
    [ -f "$libgcc" ] || die "libgcc-s1 for $arch has no lib/$trip/libgcc_s.so.1"

    base_layout "$root"
    install -m 0755 "$bin" "$root/usr/bin/python3.11"
    ln -s python3.11 "$root/usr/bin/python3"
    mkdir -m 0755 "$root/app"

    # The bytecode compiler (and, for --app, the import graph's reader): the Debian
    # python3.11 of the build machine's architecture, run through its own dynamic
    # loader and libraries, so neither the host's python nor its libraries (zlib writes
    # the zip) can change the output.
    host=$(dpkg --print-architecture)
    htrip=$(triplet "$host")
    [ -n "$htrip" ] || die "cannot byte-compile on a $host build machine (needs amd64, arm64, armhf or mipsel)"
    hp=$work/hostpython
    mkdir -p "$hp"
    for p in python3.11-minimal libpython3.11-minimal libpython3.11-stdlib libc6 zlib1g libexpat1; do
        dpkg-deb -x "$(deb "$host" "$p")" "$hp" || die "cannot unpack $p for $host"
    done
    ld=
    for f in "$hp/lib/$htrip"/ld-linux*.so.* "$hp/lib/$htrip/ld.so.1"; do
        [ -f "$f" ] && ld=$f && break
    done
    [ -n "$ld" ] || die "libc6 for $host has no dynamic loader"

    # What goes in: $work/stdlib.spec for pack_stdlib.py, the extension modules by name.
    case $variant in
        base)
            # sysconfig reads the build configuration from a module named after the target.
            printf '%s\n+_sysconfigdata__%s\n' "$STDLIB_SPEC" "$trip" >"$work/stdlib.spec"
            dynload=$DYNLOAD_KEEP ;;
        full)
            printf '%s\n' "$FULL_SPEC" >"$work/stdlib.spec"
            dynload=$(for f in "$libmin/usr/lib/python3.11/lib-dynload"/*.so "$libstd/usr/lib/python3.11/lib-dynload"/*.so; do
                m=$(basename "$f"); m=${m%%.*}
                # shellcheck disable=SC2254  # the patterns are the point
                for drop in $FULL_DYNLOAD_DROP; do case $m in $drop) m= ;; esac; done
                [ -z "$m" ] || echo "$m"
            done | LC_ALL=C sort -u) ;;
        app)
            app_files "$root/app"
            app_packages "$root/usr/lib/python3/dist-packages"
            # shellcheck disable=SC2086  # $app_keep is module names
            hostpython "$here/python/import_graph.py" "$root/app" "$root/usr/lib/python3/dist-packages" \
                "$hp/usr/lib/python3.11" "$hp/usr/lib/python3.11/lib-dynload" "$here/python/dynamic" \
                "$trip" "$work" $app_keep || die "cannot follow the imports of $app"
            dynload=$(cat "$work/dynload")
            # --bytecode: the modules' bytecode beside them (compile_tree.py says why).
            if [ "$app_bytecode" = yes ]; then
                for tree in /app /usr/lib/python3/dist-packages; do
                    hostpython "$here/python/compile_tree.py" "$root$tree" "$tree" ||
                        die "cannot compile the bytecode of $app's $tree"
                done
            fi ;;
    esac

    dyn=$root/usr/lib/python3.11/lib-dynload
    mkdir -p "$dyn"
    for m in $dynload; do
        so=
        for f in "$libmin/usr/lib/python3.11/lib-dynload/$m".cpython-311-*.so \
                 "$libstd/usr/lib/python3.11/lib-dynload/$m".cpython-311-*.so; do
            [ -f "$f" ] && so=$f && break
        done
        [ -n "$so" ] || die "no extension module $m in libpython3.11-minimal/-stdlib for $arch"
        install -m 0644 "$so" "$dyn/"
    done

    hostpython "$here/python/pack_stdlib.py" "$root/usr/lib/python311.zip" /usr/lib/python3.11 \
        "$work/stdlib.spec" "$libmin/usr/lib/python3.11" "$libstd/usr/lib/python3.11" ||
        die "cannot byte-compile the standard library"
    chmod 0644 "$root/usr/lib/python311.zip"

    ca_bundle "$root"
    # OpenSSL's default CA file and directory (OPENSSLDIR is /usr/lib/ssl in Debian), as
    # Debian's openssl package links them: ssl.create_default_context() loads them.
    mkdir -p "$root/usr/lib/ssl"
    ln -s ../../../etc/ssl/certs/ca-certificates.crt "$root/usr/lib/ssl/cert.pem"
    ln -s ../../../etc/ssl/certs "$root/usr/lib/ssl/certs"
    # glibc loads libgcc_s.so.1 with dlopen (no ELF header names it) to unwind a thread
    # in pthread_exit, which Python calls when a daemon thread wakes up during
    # interpreter shutdown; without it the process aborts ("libgcc_s.so.1 must be
    # installed for pthread_exit to work") instead of exiting 0. (On armhf libexpat and
    # others link it, too.)
    mkdir -p "$root/lib/$trip"
    install -m 0644 "$libgcc" "$root/lib/$trip/"
    # Compiled wheels (manylinux: built against glibc before 2.34) link libpthread,
    # libdl, librt and libutil, which glibc 2.34 merged into libc and still ships as
    # small stubs: without them pydantic-core and charset-normalizer's compiled modules
    # cannot load (about 60 KB). An app's template has its wheels already: the closure
    # brings the stubs they link.
    libc=$(unpack "$(deb "$arch" libc6)")
    if [ "$variant" != app ]; then
        for stub in libpthread.so.0 libdl.so.2 librt.so.1 libutil.so.1; do
            [ -f "$libc/lib/$trip/$stub" ] || die "libc6 for $arch has no lib/$trip/$stub"
            install -m 0644 "$libc/lib/$trip/$stub" "$root/lib/$trip/"
        done
    fi
    libs=""
    for p in $LIB_PACKAGES; do
        libs="$libs $(unpack "$(deb "$arch" "$p")")"
    done
    # shellcheck disable=SC2086  # $libs is a list of directories
    closure "$root" $libs
    find "$root" -path "$root/app" -prune -o -type f \( -name python3.11 -o -name '*.so' -o -name '*.so.*' \) -print |
        LC_ALL=C sort >"$work/elf"
    # shellcheck disable=SC2046  # one file name per line, none with spaces
    strip_elf $(cat "$work/elf")

    [ "$variant" = app ] || install -m 0644 "$here/python/app/service.py" "$root/app/service.py"
}

# hostpython ARGS...: the build machine's Debian python3.11 (unpacked in $hp), with a
# fixed hash seed and no site, user or bytecode files.
hostpython() {
    env -i PYTHONHOME="$hp/usr" PYTHONHASHSEED=0 LC_ALL=C \
        "$ld" --library-path "$hp/lib/$htrip:$hp/usr/lib/$htrip" "$hp/usr/bin/python3.11" -S -s -B "$@"
}

# app_files DEST: the app's directory as /app, and the default command that runs it.
# Only regular files, directories and symlinks that stay inside it: a link out of the
# directory would point at the board's files, not the app's; a device or FIFO is never
# an app's file.
app_files() {
    [ -d "$app" ] || die "--app $app: give the app's directory (its main.py, app.py or __main__.py and modules)"
    odd=$(find "$app" ! -type f ! -type d ! -type l -print -quit)
    [ -z "$odd" ] || die "--app $app: $odd is not a regular file, directory or symlink"
    out=$(find "$app" -type l | LC_ALL=C sort | while read -r l; do
        t=$(realpath -m "$l")
        case $t in "$app"/*) ;; *) echo "$l links to $t"; break ;; esac
    done)
    [ -z "$out" ] || die "--app $app: $out, outside the app: copy the file in instead"
    (cd "$app" && tar -c --exclude=__pycache__ --exclude=.git --exclude='*.pyc' .) | (cd "$1" && tar -x --no-same-owner) ||
        die "cannot copy $app"
    if [ -f "$1/__main__.py" ]; then
        TEMPLATE_COMMAND='["/usr/bin/python3", "/app"]'
    elif [ -f "$1/main.py" ]; then
        TEMPLATE_COMMAND='["/usr/bin/python3", "/app/main.py"]'
    elif [ -f "$1/app.py" ]; then
        TEMPLATE_COMMAND='["/usr/bin/python3", "/app/app.py"]'
    elif [ -z "$app_command" ]; then
        die "--app $app has no __main__.py, main.py or app.py: give --command"
    fi
}

# app_packages SITE: the app's packages (--requirements or --wheels) installed by wheels.sh.
app_packages() {
    if [ -n "$app_requirements" ]; then
        set -- "$1" --requirements "$app_requirements"
    elif [ -n "$app_wheels" ]; then
        set -- "$1" --wheels "$app_wheels"
    else
        return 0
    fi
    mkdir -p "$(dirname "$1")"
    sh "$here/python/wheels.sh" "$arch" "$@" >&2 || die "cannot install the packages of $app for $arch"
}
