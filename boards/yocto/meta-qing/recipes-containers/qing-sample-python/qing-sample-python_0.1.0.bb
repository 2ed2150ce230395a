# No HOMEPAGE or BUGTRACKER: qing has no public home page yet (as the qing recipe).
SUMMARY = "The sample JSON service of qing's python template"
DESCRIPTION = "A JSON greeter on http.server, in /app/service.py: GET / answers \
               its status, POST / a greeting. It listens on $HOST:$PORT."
SECTION = "devel/python"
LICENSE = "MIT | Apache-2.0"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/MIT;md5=0835ade698e0bcf8506ecda2f7b4f302 \
                    file://${COMMON_LICENSE_DIR}/Apache-2.0;md5=89aea4e17d99a7cacdbeed46a0096b10"

# The service is the one of qing's tree, which this layer is part of: the python
# template that rootfs-templates/build.sh makes runs the same file.
FILESEXTRAPATHS:prepend := "${THISDIR}/../../../../../rootfs-templates/python/app:"
SRC_URI = "file://service.py"
S = "${UNPACKDIR}"

inherit allarch

do_configure[noexec] = "1"
do_compile[noexec] = "1"

do_install() {
    install -d ${D}/app
    install -m 0644 ${S}/service.py ${D}/app/service.py
}

FILES:${PN} += "/app"
RDEPENDS:${PN} = "python3-core python3-json python3-netclient python3-netserver"
