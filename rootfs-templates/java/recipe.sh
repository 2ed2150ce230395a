# rootfs-templates/java/recipe.sh: sourced by ../build.sh (which provides $arch, $here,
# $work, deb, unpack, epoch_from, base_layout, ca_bundle, closure, strip_elf, triplet,
# die).
#
# A Java 17 rootfs: a jlink'd runtime in /opt/java, made from Debian's OpenJDK 17 jmods
# for the target architecture and linked by the host's jlink 17 (jlink only copies and
# rewrites the target's files, so it links any architecture's jmods; only the feature
# release has to match). Plus the glibc libraries the launcher and the VM link, the CA
# bundle, and an app under /app. No shell.
#
#   base   BASE_MODULES, and the sample service compiled by the host's javac 17 into
#          /app/service.jar
#   --full every Java SE module (java.se) as well, and the same sample service
#   --app APP.jar [--classpath DIR]
#          APP.jar as /app/APP.jar and the jars in DIR as /app/lib/*.jar; the modules are
#          what the app's class graph reaches (class_graph.py, from jdeps), and the
#          manifest's "kept" lists each with the class that pulled it in. The default
#          command runs APP.jar's Main-Class with the jars on the class path.

# shellcheck shell=sh disable=SC2154,SC2034  # arch, here, repo and work are set by build.sh; it reads TEMPLATE_*

# The options of build.sh this recipe takes.
RECIPE_OPTIONS="full app classpath keep command"

# The base modules: what the sample service uses (java.base, java.logging,
# jdk.httpserver, jdk.unsupported for sun.misc.Signal); jdk.crypto.ec, without which TLS
# fails with most servers (ECDHE, EC certificates), for about 70 KB in the squashfs; and
# what services commonly use: JDBC (java.sql, which brings java.xml and
# java.transaction.xa), XML (java.xml), JNDI (java.naming, which Jetty's TLS code and
# most frameworks touch) and the HTTP client (java.net.http). Left out for size, since
# the base is within 830 KB of its 40 MiB directory and 140 KB of its 20 MiB squashfs
# on amd64: JMX (java.management: 640 KB of lib/modules, and libmanagement.so),
# java.desktop (AWT, Swing, java.beans: 12 MB of jmod), java.compiler, java.scripting,
# java.instrument, jdk.localedata (java.base has the English locale only) and the
# tools. --full has them all, and --app those the app uses.
BASE_MODULES=java.base,java.logging,jdk.httpserver,jdk.unsupported,jdk.crypto.ec,java.sql,java.xml,java.naming,java.net.http

# The messages of the JDK in other languages than English (resource bundles named
# *_LOCALE): about 950 KB of lib/modules, of no use on a board without a UI. A service
# in a German locale logs the JDK's messages in English.
OTHER_LOCALES='de|es|fr|it|ja|ko|pt_BR|sv|zh_CN|zh_TW|zh_HK|ca|cs|hu|pl|ru|sk|tr'

# java.desktop's native libraries for a display (and JAWT on it), sound, the splash
# screen and font rendering, which need X11, ALSA, FreeType and HarfBuzz (with GLib): a
# container has no display. Without them java.desktop (--full, or an app that uses
# java.beans or ImageIO) is headless AWT with image I/O (libjpeg62-turbo) and colour
# management (liblcms2-2); drawing text into an image fails (UnsatisfiedLinkError).
DESKTOP_NATIVES='/java.desktop/lib/lib(awt_xawt|jawt|splashscreen|jsound|fontmanager)\.so'

# Small-board JVM settings. Idle RSS of the sample service in a 128 MB container on
# amd64 (after a few requests): 50 MB with the defaults (G1, tiered C1+C2, 21 threads);
# the serial collector (no GC threads, least heap overhead) 48 MB; C1 alone
# (TieredStopAtLevel=1: one compiler thread, small code cache) 45 MB, 16 threads. 512 KiB
# stacks cost nothing idle but halve what each thread reserves; without perf data
# nothing is written to /tmp/hsperfdata_* (jps and jstat cannot see the process). About
# 20 MB of the RSS is clean file pages (libjvm.so, lib/modules) that the kernel can drop
# under pressure. The heap follows the container's memory limit, which the JVM reads
# from its cgroup when it can see it (at most half of a limit up to about 200 MB, a
# quarter of a larger one).
JAVA_COMMAND='"/opt/java/bin/java","-XX:+UseSerialGC","-XX:TieredStopAtLevel=1","-Xss512k","-XX:-UsePerfData"'

recipe_build() {
    root=$1
    TEMPLATE_COMMAND="[$JAVA_COMMAND,\"-jar\",\"/app/service.jar\"]"
    TEMPLATE_ENV='["PATH=/opt/java/bin:/usr/bin:/bin","JAVA_HOME=/opt/java","PORT=8080"]'
    TEMPLATE_WORKDIR=/app

    # The host's JDK 17 (not any other JDK installed beside it: jlink refuses jmods of
    # another feature release, and javac's output must not depend on which is default).
    hostjdk=/usr/lib/jvm/java-17-openjdk-$(dpkg --print-architecture)
    [ -x "$hostjdk/bin/jlink" ] || {
        apt-get update -q >&2 &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends openjdk-17-jdk-headless >&2
    } || die "cannot install openjdk-17-jdk-headless (for jlink, javac and jar)"
    [ -x "$hostjdk/bin/jlink" ] || die "openjdk-17-jdk-headless installed no $hostjdk/bin/jlink"

    # Debian 12 has no separate openjdk-17-jmods package: the jmods are in
    # openjdk-17-jdk-headless, which exists for amd64, arm64, armhf and mipsel
    # (mipsel's VM is Zero, an interpreter without JIT).
    if ! jdkdeb=$(sh "$repo/cross/debs.sh" "$arch" openjdk-17-jdk-headless) || [ ! -f "$jdkdeb" ]; then
        die "Debian 12 has no OpenJDK 17 jmods for $arch (package openjdk-17-jdk-headless): cannot build the java template for $arch"
    fi
    jmods=$(unpack "$jdkdeb")/usr/lib/jvm/java-17-openjdk-$arch/jmods
    [ -f "$jmods/java.base.jmod" ] ||
        die "openjdk-17-jdk-headless for $arch has no jmods/java.base.jmod: Debian has no OpenJDK 17 jmods for $arch"

    # The date: the newer of the JDK's and the CA bundle's package dates. It is also the
    # date of every entry in the jar.
    cafile=$(unpack "$(deb "$arch" ca-certificates)")/usr/sbin/update-ca-certificates
    [ -f "$cafile" ] || die "ca-certificates has no usr/sbin/update-ca-certificates"
    if [ "$(stat -c %Y "$jmods/java.base.jmod")" -ge "$(stat -c %Y "$cafile")" ]; then
        epoch_from "$jmods/java.base.jmod"
    else
        epoch_from "$cafile"
    fi

    case $variant in
        base) sample_service; modules=$BASE_MODULES,$deps ;;
        full) sample_service; modules=java.se,$BASE_MODULES,$deps ;;
        app)
            app_files
            modules=$(app_modules) || die "cannot find the modules $app uses" ;;
    esac

    # --compress=2 (zip), measured on amd64 against the other two levels, with the
    # service idle in 128 MB (RSS; file-backed pages of lib/modules and libjvm.so
    # included, which the kernel can drop and read again):
    #                     lib/modules  directory  squashfs (xz)  RSS
    #   0 (none)          21.0 MB      48.3 MB    12.8 MB        37 MB
    #   1 (string share)  14.2 MB      41.5 MB    12.5 MB        51 MB
    #   2 (zip)           10.0 MB      37.4 MB    17.2 MB        43 MB
    # Only level 2 keeps the directory within its 40 MB budget (the squashfs stays
    # within 20 MB); zip'd classes cost xz about 4.4 MB, which level 0 would save, at
    # 10.9 MB more directory. Level 1 is the worst at run time: rebuilding its shared
    # strings touches most of lib/modules.
    # --strip-java-debug-attributes drops line numbers and local variable tables (stack
    # traces say "Unknown Source"). Not --strip-debug, which also runs the host's objcopy
    # on the native files and fails on another architecture's: strip_elf strips them
    # below. Headers and man pages are of no use in a container; neither are jexec (runs
    # jar files through binfmt_misc), lib/classlist (only -Xshare:dump reads it) and
    # lib/jrt-fs.jar (for other JDKs reading this image; the running VM has its own).
    # The other languages' messages go too (OTHER_LOCALES), and DESKTOP_NATIVES.
    base_layout "$root"
    mkdir -m 0755 "$root/opt"
    "$hostjdk/bin/jlink" --module-path "$jmods" --add-modules "$modules" --output "$root/opt/java" \
        --strip-java-debug-attributes --no-header-files --no-man-pages --compress=2 \
        --exclude-resources="regex:.*_($OTHER_LOCALES)\\.(properties|class)" \
        --exclude-files="regex:/java.base/lib/(jexec|classlist|jrt-fs\\.jar)|$DESKTOP_NATIVES" >&2 ||
        die "jlink failed for $arch (jmods in $jmods)"

    mkdir -m 0755 "$root/app"
    (cd "$work/app" && find . -type f | LC_ALL=C sort | while read -r f; do
        install -D -m 0644 "$f" "$root/app/$f" || exit 1
    done) || die "cannot install the app's jars"
    # TLS: Java trusts lib/security/cacerts, a keystore, not the PEM bundle. The one
    # jlink copied from java.base.jmod is OpenJDK's own root list (106 roots in
    # 17.0.21), updated with every OpenJDK security release and byte-identical from
    # the package; it is kept as is. Making one from the bundle would mean keytool,
    # which stamps every entry with the time of the build. The PEM bundle is for
    # everything else (a CA added there must also be added to cacerts for Java).
    ca_bundle "$root"

    # The glibc closure. libjava.so and friends link libjvm.so by name, which the
    # launcher has already loaded from lib/server by then; a link where the dynamic
    # loader would look lets the closure walk through it, and goes again afterwards.
    ln -s server/libjvm.so "$root/opt/java/lib/libjvm.so"
    closure "$root" \
        "$(unpack "$(deb "$arch" libc6)")" \
        "$(unpack "$(deb "$arch" zlib1g)")" \
        "$(unpack "$(deb "$arch" libstdc++6)")" \
        "$(unpack "$(deb "$arch" libgcc-s1)")" \
        "$(unpack "$(deb "$arch" libatomic1)")" \
        "$(unpack "$(deb "$arch" libjpeg62-turbo)")" \
        "$(unpack "$(deb "$arch" liblcms2-2)")"
    rm "$root/opt/java/lib/libjvm.so"

    # Debian's libjvm.so keeps its symbol table (a few MB); strip every ELF file, then
    # check that none has a symbol table or debug sections left.
    printf '\177ELF' >"$work/elf-magic"
    find "$root" -type f | LC_ALL=C sort | while read -r f; do
        head -c 4 "$f" | cmp -s - "$work/elf-magic" && echo "$f"
    done >"$work/elf-files"
    [ -s "$work/elf-files" ] || die "no ELF files in the java tree"
    # shellcheck disable=SC2046  # paths without spaces
    strip_elf $(cat "$work/elf-files")
    while read -r f; do
        if llvm-readelf-14 -S "$f" | grep -qE ' \.(symtab|debug_[a-z_]*) '; then
            die "$f still has a symbol table or debug sections after stripping"
        fi
    done <"$work/elf-files"
}

# sample_service: the sample service, compiled and packed as $work/app/service.jar; sets
# deps to the modules jdeps says it needs.
sample_service() {
    # From a copy, so that nothing is written beside the source. javac warns that
    # sun.misc.Signal (for a clean exit on SIGTERM) is internal API: it is, in the
    # exported module jdk.unsupported, there for exactly this use.
    mkdir -p "$work/java-src" "$work/java-classes" "$work/app"
    cp "$here/java/app/Service.java" "$work/java-src/" || die "cannot copy the sample service"
    "$hostjdk/bin/javac" --release 17 -encoding UTF-8 -d "$work/java-classes" "$work/java-src/Service.java" >&2 ||
        die "javac failed on the sample service"
    # A reproducible jar: every entry dated SOURCE_DATE_EPOCH, the classes in a fixed
    # order, and our own Created-By, which jar would otherwise fill with the host
    # JDK's version.
    printf 'Manifest-Version: 1.0\nCreated-By: qing rootfs-templates\nMain-Class: Service\n' >"$work/MANIFEST.MF"
    jardate=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
    # shellcheck disable=SC2046  # the class file names: no spaces, '$' is literal
    (cd "$work/java-classes" && "$hostjdk/bin/jar" --create --file "$work/app/service.jar" \
        --manifest "$work/MANIFEST.MF" --date "$jardate" $(find . -name '*.class' | LC_ALL=C sort)) ||
        die "jar failed on the sample service"
    deps=$("$hostjdk/bin/jdeps" --multi-release 17 --print-module-deps "$work/app/service.jar") ||
        die "jdeps failed on the sample service"
}

# app_files: APP.jar as $work/app/NAME.jar and the jars of --classpath DIR (the *.jar
# files in it, links followed: Debian's are links to versioned names) as
# $work/app/lib/*.jar; sets TEMPLATE_COMMAND to run APP.jar's Main-Class with all of them
# on the class path, in a fixed order (a lib/* wildcard would be expanded in directory
# order), unless --command gives one.
app_files() {
    jar_name() {
        case $(basename "$1") in
            *[!A-Za-z0-9._+-]*|.*) die "$1: a jar's name may hold letters, digits and . _ + - only (it goes in the default command's class path); rename it" ;;
        esac
        basename "$1"
    }
    case $app in *.jar) ;; *) die "--app $app: give the app's jar (APP.jar)" ;; esac
    [ -f "$app" ] || die "--app $app: no such file"
    mkdir -p "$work/app/lib"
    appjar=$(jar_name "$app")
    cp -L "$app" "$work/app/$appjar" || die "cannot copy $app"
    classpath="/app/$appjar"
    if [ -n "$app_classpath" ]; then
        for jar in "$app_classpath"/*.jar; do
            [ -e "$jar" ] || die "--classpath $app_classpath: no .jar files in it"
            [ -f "$jar" ] || die "$jar: not a file (a broken link, or a directory)"
            cp -L "$jar" "$work/app/lib/$(jar_name "$jar")" || die "cannot copy $jar"
            classpath="$classpath:/app/lib/$(basename "$jar")"
        done
    fi
    [ -n "$app_command" ] && return 0
    main=$(python3 - "$work/app/$appjar" <<'PY'
import sys, zipfile
try:
    with zipfile.ZipFile(sys.argv[1]) as jar:
        manifest = jar.read("META-INF/MANIFEST.MF").decode("utf-8", "replace")
except (OSError, KeyError, zipfile.BadZipFile) as e:
    sys.exit(f"not a jar with a manifest ({e})")
for line in manifest.splitlines():
    if line.startswith("Main-Class:"):
        print(line.split(":", 1)[1].strip())
PY
    ) || die "--app $app: not a jar with a manifest"
    case $main in
        '') die "--app $app: its manifest names no Main-Class: give --command" ;;
        *[!A-Za-z0-9_.\$]*) die "--app $app: Main-Class '$main' is not a class name" ;;
    esac
    TEMPLATE_COMMAND="[$JAVA_COMMAND,\"-cp\",\"$classpath\",\"$main\"]"
}

# app_modules: the modules the app's class graph reaches (class_graph.py, which writes
# $work/kept.json), comma-separated.
app_modules() {
    # shellcheck disable=SC2046  # the jar names were checked: no spaces
    (cd "$work/app" && "$hostjdk/bin/jdeps" -verbose:class -filter:none --multi-release 17 \
        --ignore-missing-deps "$appjar" $(find lib -name '*.jar' | LC_ALL=C sort)) >"$work/jdeps.txt" ||
        die "jdeps failed on $app: $(tail -n 3 "$work/jdeps.txt")"
    keeps=""
    for m in $app_keep; do keeps="$keeps --keep $m"; done
    # shellcheck disable=SC2046,SC2086  # jar names and module names: no spaces
    JMOD=$hostjdk/bin/jmod python3 "$here/java/class_graph.py" "$work/jdeps.txt" "$jmods" "$work/kept.json" \
        $keeps "$work/app/$appjar" $(find "$work/app/lib" -name '*.jar' | LC_ALL=C sort)
}
