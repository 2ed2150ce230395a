# rootfs-templates/java/recipe.sh: sourced by ../build.sh (which provides $arch, $here,
# $work, deb, unpack, epoch_from, base_layout, ca_bundle, closure, strip_elf, triplet,
# die).
#
# A Java 17 rootfs: a jlink'd runtime in /opt/java holding only the modules the sample
# service needs, made from Debian's OpenJDK 17 jmods for the target architecture and
# linked by the host's jlink 17 (jlink only copies and rewrites the target's files, so
# it links any architecture's jmods; only the feature release has to match). Plus the
# glibc libraries the launcher and the VM link, the CA bundle, and the sample service
# compiled by the host's javac 17 into /app/service.jar. No shell.

# shellcheck shell=sh disable=SC2154,SC2034  # arch, here, repo and work are set by build.sh; it reads TEMPLATE_*

# The options of build.sh this recipe takes.
RECIPE_OPTIONS=""

recipe_build() {
    root=$1
    # Small-board JVM settings. Idle RSS of the sample service in a 128 MB container on
    # amd64 (after a few requests): 50 MB with the defaults (G1, tiered C1+C2, 21
    # threads); the serial collector (no GC threads, least heap overhead) 48 MB; C1
    # alone (TieredStopAtLevel=1: one compiler thread, small code cache) 45 MB, 16
    # threads. 512 KiB stacks cost nothing idle but halve what each thread reserves;
    # without perf data nothing is written to /tmp/hsperfdata_* (jps and jstat cannot
    # see the process). About 20 MB of the RSS is clean file pages (libjvm.so,
    # lib/modules) that the kernel can drop under pressure. The heap follows the
    # container's memory limit, which the JVM reads from its cgroup when it can see it
    # (at most half of a limit up to about 200 MB, a quarter of a larger one).
    TEMPLATE_COMMAND='["/opt/java/bin/java","-XX:+UseSerialGC","-XX:TieredStopAtLevel=1","-Xss512k","-XX:-UsePerfData","-jar","/app/service.jar"]'
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

    # The sample service, from a copy so that nothing is written beside the source.
    # javac warns that sun.misc.Signal (for a clean exit on SIGTERM) is internal API: it
    # is, in the exported module jdk.unsupported, there for exactly this use.
    mkdir -p "$work/java-src" "$work/java-classes"
    cp "$here/java/app/Service.java" "$work/java-src/" || die "cannot copy the sample service"
    "$hostjdk/bin/javac" --release 17 -encoding UTF-8 -d "$work/java-classes" "$work/java-src/Service.java" >&2 ||
        die "javac failed on the sample service"
    # A reproducible jar: every entry dated SOURCE_DATE_EPOCH, the classes in a fixed
    # order, and our own Created-By, which jar would otherwise fill with the host
    # JDK's version.
    printf 'Manifest-Version: 1.0\nCreated-By: qing rootfs-templates\nMain-Class: Service\n' >"$work/MANIFEST.MF"
    jardate=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
    # shellcheck disable=SC2046  # the class file names: no spaces, '$' is literal
    (cd "$work/java-classes" && "$hostjdk/bin/jar" --create --file "$work/service.jar" \
        --manifest "$work/MANIFEST.MF" --date "$jardate" $(find . -name '*.class' | LC_ALL=C sort)) ||
        die "jar failed on the sample service"

    # The modules: the service's own needs as jdeps sees them (java.base, java.logging,
    # jdk.httpserver, jdk.unsupported for sun.misc.Signal), the ones the template
    # promises, and jdk.crypto.ec: without the EC provider, TLS to most servers fails
    # (ECDHE key exchange, EC certificates), for about 70 KB in the squashfs.
    deps=$("$hostjdk/bin/jdeps" --multi-release 17 --print-module-deps "$work/service.jar") ||
        die "jdeps failed on the sample service"
    modules=java.base,java.logging,jdk.httpserver,jdk.crypto.ec,$deps

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
    # below. Headers and man pages are of no use in a container; jexec (runs jar files
    # through binfmt_misc) neither.
    base_layout "$root"
    mkdir -m 0755 "$root/opt"
    "$hostjdk/bin/jlink" --module-path "$jmods" --add-modules "$modules" --output "$root/opt/java" \
        --strip-java-debug-attributes --no-header-files --no-man-pages --compress=2 \
        --exclude-files='/java.base/lib/jexec' >&2 ||
        die "jlink failed for $arch (jmods in $jmods)"

    mkdir -m 0755 "$root/app"
    install -m 0644 "$work/service.jar" "$root/app/service.jar"
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
        "$(unpack "$(deb "$arch" libatomic1)")"
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
