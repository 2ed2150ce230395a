# rootfs-templates/go/recipe.sh: sourced by ../build.sh (which provides $arch, $here,
# $work, deb, unpack, epoch_from, base_layout, ca_bundle, die).
#
# A scratch-like rootfs for Go services: the sample service in app/ (standard library
# only) compiled by Debian's Go into one static binary, /app/service, plus the accounts,
# /tmp and the CA bundle that crypto/tls reads (/etc/ssl/certs/ca-certificates.crt).
# No shell and no libc: nothing in the tree but the binary can run.
#
# --app MODULE_DIR: the same, for the main package at the root of the Go module
# MODULE_DIR, built the same way into /app/<the directory's name>. The build is offline (no module proxy is
# reachable from a build machine, and none should be needed to rebuild a board's image):
# a module with dependencies vendors them (`go mod vendor`: MODULE_DIR/vendor), or points
# at local copies with `replace` directives.

# shellcheck shell=sh disable=SC2154,SC2034  # build.sh sets arch, here, work and reads TEMPLATE_*

# The options of build.sh this recipe takes.
RECIPE_OPTIONS="app command"

recipe_build() {
    root=$1
    if [ -n "$app" ]; then
        [ -f "$app/go.mod" ] ||
            die "--app $app: not a Go module directory (no go.mod); give the directory that holds go.mod"
        # The binary is named as `go build` would name it, after the module's directory;
        # a name that could not be one (spaces, quotes) falls back to the template's.
        src=$app binary=$(basename "$app")
        case $binary in .*|-*|*[!A-Za-z0-9._-]*) binary=$name ;; esac
    else
        src=$here/go/app binary=service
    fi
    TEMPLATE_COMMAND="[\"/app/$binary\"]"
    TEMPLATE_ENV='["PATH=/app:/usr/bin:/bin","PORT=8080"]'
    TEMPLATE_WORKDIR=/app

    # The host's Go cross-compiles for every target: with cgo off, Go needs no C
    # toolchain or target libraries, so no foreign-arch .deb is involved but the CA one.
    command -v go >/dev/null || {
        apt-get update -q >&2 &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends golang-go >&2
    } || die "cannot install golang-go"
    go=$(command -v go)

    # MIPS: soft float, since most MIPS boards have no FPU (the kernel's FPU emulation
    # would trap on every float instruction). ARM: v7 with VFP, what armhf means.
    # amd64: v1, the baseline, said out loud so that a GOAMD64 on the host cannot leak in.
    case $arch in
        amd64) goarch="GOARCH=amd64 GOAMD64=v1" ;;
        arm64) goarch="GOARCH=arm64" ;;
        armhf) goarch="GOARCH=arm GOARM=7" ;;
        mipsel) goarch="GOARCH=mipsle GOMIPS=softfloat" ;;
        *) die "no Go target for $arch" ;;
    esac

    # Build from a copy, so that the go command writes nothing into the source tree (an
    # app's .git and build output stay behind).
    mkdir -p "$work/go-src" "$work/go-home"
    (cd "$src" && tar -c --exclude=.git --exclude="./$binary" .) | (cd "$work/go-src" && tar -x) ||
        die "cannot copy $src"

    go_clean build -trimpath -buildvcs=false -tags nethttpomithttp2 \
        -ldflags='-s -w -buildid=' -o "$work/$binary" . >&2 ||
        die "go build of $src failed for $arch (the module's root must be a main package; dependencies must be vendored: go mod vendor)"
    [ -z "$app" ] || go_kept "$work/kept.json"

    base_layout "$root"
    ca_bundle "$root"
    mkdir -m 0755 "$root/app"
    install -m 0755 "$work/$binary" "$root/app/$binary"

    # The tree is made of two inputs: the Go toolchain (the binary) and ca-certificates
    # (the bundle). The date is the newer of the two packages' dates, so it moves only
    # when one of them does.
    goroot=$(go_clean env GOROOT) || die "$go env GOROOT failed"
    [ -f "$goroot/VERSION" ] || die "the Go toolchain at $go has no $goroot/VERSION"
    cafile=$(unpack "$(deb "$arch" ca-certificates)")/usr/sbin/update-ca-certificates
    [ -f "$cafile" ] || die "ca-certificates has no usr/sbin/update-ca-certificates"
    if [ "$(stat -c %Y "$goroot/VERSION")" -ge "$(stat -c %Y "$cafile")" ]; then
        epoch_from "$goroot/VERSION"
    else
        epoch_from "$cafile"
    fi
}

# go_clean ARGS...: the go command in the copy of the source, in a clean environment
# (env -i, GOENV=off) so that nothing from the caller (GOFLAGS, a go env file, GOARM...)
# reaches the build; a private cache and GOPATH under $work, no module proxy (no
# third-party modules: the build is offline). GOTOOLCHAIN=local stops Go 1.21 and later
# from fetching another toolchain; older Go ignores it.
# Reproducible and small (the build's flags): -trimpath drops build paths,
# -buildvcs=false keeps the repository's commit out of the binary, -buildid= drops the
# content hash of the inputs, -s -w the symbol table and DWARF. nethttpomithttp2 leaves
# out net/http's HTTP/2 (about 340 KB on amd64): a plain-HTTP service on loopback never
# speaks it.
go_clean() {
    # shellcheck disable=SC2086  # $goarch is a list of assignments
    (cd "$work/go-src" && env -i PATH=/usr/bin:/bin HOME="$work/go-home" GOENV=off \
        GOCACHE="$work/go-cache" GOPATH="$work/go-path" GOMODCACHE="$work/go-path/pkg/mod" \
        GOPROXY=off GOSUMDB=off GOTOOLCHAIN=local GO111MODULE=on GOFLAGS= \
        CGO_ENABLED=0 GOOS=linux $goarch "$go" "$@")
}

# go_kept FILE: what an app's binary holds, as the manifest's "kept": every package the
# main package reaches (`go list -deps`, for the same target and tags as the build: the
# linker takes in exactly these), each with the package whose import pulled it in,
# found breadth-first from the main package, so that each "why" is a shortest path.
go_kept() {
    go_clean list -deps -tags nethttpomithttp2 -f '{{.ImportPath}} {{join .Imports " "}}' . >"$work/go-deps.txt" ||
        die "go list of $src failed for $arch"
    python3 - "$work/go-deps.txt" "$1" <<'PY' || die "cannot list the packages of $src"
import json, sys
rows = [line.split() for line in open(sys.argv[1]) if line.strip()]
imports = {row[0]: row[1:] for row in rows}
main = rows[-1][0]  # go list -deps prints a package after all it imports
why, queue = {main: "the app's main package"}, [main]
for package in queue:
    for imported in imports.get(package, []):
        if imported in imports and imported not in why:
            why[imported] = "import in " + package
            queue.append(imported)
kept = [{"module": m, "why": why[m]} for m in sorted(why)]
with open(sys.argv[2], "w") as f:
    json.dump(kept, f, indent=1)
PY
}
