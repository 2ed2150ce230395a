# No HOMEPAGE or BUGTRACKER: qing has no public home page yet; its source tree, which
# this layer is part of, is its home.
SUMMARY = "An ultra-light container manager for embedded Linux boards"
DESCRIPTION = "qing runs containers from directory or squashfs templates with \
               namespaces, cgroups (v1, v2 or both) and an optional bridge, as one \
               static binary with no daemon, driven by init scripts."
CVE_PRODUCT = "qing"
SECTION = "console/utils"
LICENSE = "MIT | Apache-2.0"
# qing states its license in Cargo.toml.
LIC_FILES_CHKSUM = "file://Cargo.toml;beginline=6;endline=6;md5=86b31c7756a1a7962f28b62856ed4f05"

# The source is the qing tree this layer is part of (boards/yocto/meta-qing).
inherit externalsrc
EXTERNALSRC = "${@os.path.abspath(os.path.join(d.getVar('THISDIR'), '../../../../..'))}"
EXTERNALSRC_BUILD = "${WORKDIR}/build"

inherit cargo cargo-update-recipe-crates update-rc.d systemd
require ${BPN}-crates.inc

# The build options, qing's cargo features (README, "Build options").
PACKAGECONFIG ??= "squashfs named bridge exec tty debug seccomp"
PACKAGECONFIG[squashfs] = "--features squashfs"
PACKAGECONFIG[named] = "--features named"
PACKAGECONFIG[bridge] = "--features bridge"
PACKAGECONFIG[exec] = "--features exec"
PACKAGECONFIG[tty] = "--features tty"
PACKAGECONFIG[debug] = "--features debug"
PACKAGECONFIG[seccomp] = "--features seccomp"
CARGO_BUILD_FLAGS += "--no-default-features ${PACKAGECONFIG_CONFARGS}"

# One static binary: it links no libc of the image's, and runs in any container root.
RUSTFLAGS:append = " -C target-feature=+crt-static"
# qing's release profile strips; leave that to OE, which splits the debug symbols.
export CARGO_PROFILE_RELEASE_STRIP = "false"

do_install:append() {
    install -d ${D}${sysconfdir}/default ${D}${sysconfdir}/qing
    install -m 0644 ${S}/boards/sysvinit/qing.default ${D}${sysconfdir}/default/qing
    if ${@bb.utils.contains('DISTRO_FEATURES', 'sysvinit', 'true', 'false', d)}; then
        install -d ${D}${sysconfdir}/init.d
        install -m 0755 ${S}/boards/sysvinit/qing ${D}${sysconfdir}/init.d/qing
    fi
    if ${@bb.utils.contains('DISTRO_FEATURES', 'systemd', 'true', 'false', d)}; then
        install -d ${D}${systemd_system_unitdir}
        install -m 0644 ${S}/boards/systemd/qing@.service ${D}${systemd_system_unitdir}/qing@.service
    fi
}

# sysvinit: the script starts the containers marked autostart, in their order.
INITSCRIPT_NAME = "qing"
INITSCRIPT_PARAMS = "defaults 95 5"
# systemd: qing@NAME runs the container NAME; which ones is the image's choice.
SYSTEMD_SERVICE:${PN} = "qing@.service"
SYSTEMD_AUTO_ENABLE:${PN} = "disable"

CONFFILES:${PN} = "${sysconfdir}/default/qing"
