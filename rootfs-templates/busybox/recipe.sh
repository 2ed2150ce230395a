# rootfs-templates/busybox/recipe.sh: sourced by ../build.sh (which provides $arch, $here,
# $work, deb, unpack, epoch_from, base_layout, die).
#
# A rootfs of Debian's busybox-static: /bin/busybox and one relative symlink per applet,
# at the path busybox itself would install it (bin, sbin, usr/bin, usr/sbin), plus the
# sample service in shell (app/: busybox httpd and a CGI script with an awk JSON
# validator), started with /app/service. The default command stays a shell: this is
# also the base and debug template.

# shellcheck shell=sh disable=SC2154,SC2034  # build.sh sets arch, here and work, and reads TEMPLATE_*

recipe_build() {
    root=$1
    TEMPLATE_COMMAND='["/bin/sh"]'
    TEMPLATE_ENV='["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "PORT=8080"]'
    TEMPLATE_WORKDIR=/
    target=$(unpack "$(deb "$arch" busybox-static)")/bin/busybox
    [ -f "$target" ] || die "busybox-static for $arch has no bin/busybox"

    # The applet list with install paths comes from `busybox --list-full`, which a foreign
    # binary cannot run here. The host's build of the same package has the same applets
    # (one Debian config for every architecture); the check below proves it for this pair
    # by finding the host's applet names, in order, in the target binary's name table.
    host=$(dpkg --print-architecture)
    if [ "$host" = "$arch" ]; then
        lister=$target
    else
        lister=$(unpack "$(deb "$host" busybox-static)")/bin/busybox
    fi
    "$lister" --list-full >"$work/applets" || die "cannot run $lister --list-full"
    "$lister" --list >"$work/names"
    tr '\0' '\n' <"$target" | awk '
        NR == FNR { want[++n] = $0; next }
        { if ($0 == want[i + 1]) { if (++i == n) { found = 1; exit } } else i = ($0 == want[1]) }
        END { exit !found }' "$work/names" - ||
        die "the $arch busybox has other applets than the $host one; cannot list them without running it"

    base_layout "$root"
    install -m 0755 "$target" "$root/bin/busybox"
    epoch_from "$target"

    # Skipped: bin/busybox is the binary itself, and linuxrc (init for initrds) would
    # only clutter / in a container.
    LC_ALL=C sort "$work/applets" | while read -r path; do
        case $path in bin/busybox|linuxrc) continue ;; esac
        dir=${path%/*}
        # Relative links resolve both inside the container and from the host.
        case $dir in
            bin|sbin) to=../bin/busybox ;;
            usr/bin|usr/sbin) to=../../bin/busybox ;;
            *) die "applet at unexpected path '$path'" ;;
        esac
        ln -s "$to" "$root/$path"
    done

    # The sample service: httpd serves /app/www, whose only content is the CGI that
    # answers / (so no other file of the tree can be fetched over HTTP).
    mkdir -m 0755 "$root/app" "$root/app/www" "$root/app/www/cgi-bin"
    install -m 0755 "$here/busybox/app/service" "$root/app/service"
    install -m 0644 "$here/busybox/app/greet.awk" "$root/app/greet.awk"
    install -m 0755 "$here/busybox/app/www/cgi-bin/index.cgi" "$root/app/www/cgi-bin/index.cgi"
}
