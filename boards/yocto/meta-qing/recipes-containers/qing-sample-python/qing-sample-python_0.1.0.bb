# No HOMEPAGE or BUGTRACKER: qing has no public home page yet (as the qing recipe).
SUMMARY = "The sample JSON service of qing's python template"
DESCRIPTION = "A JSON greeter on http.server, in /app/service.py: GET / answers \
               its status, POST / a greeting. It listens on $HOST:$PORT."
SECTION = "devel/python"
LICENSE = "MIT | Apache-2.0"
LIC_FILES_CHKSUM = "file://Cargo.toml;beginline=6;endline=6;md5=86b31c7756a1a7962f28b62856ed4f05"

# The service is the one in qing's tree, which this layer is part of.
inherit externalsrc
EXTERNALSRC = "${@os.path.abspath(os.path.join(d.getVar('THISDIR'), '../../../../..'))}"
EXTERNALSRC_BUILD = "${WORKDIR}/build"

inherit allarch

do_configure[noexec] = "1"
do_compile[noexec] = "1"

do_install() {
    install -d ${D}/app
    install -m 0644 ${S}/rootfs-templates/python/app/service.py ${D}/app/service.py
}

FILES:${PN} = "/app"
RDEPENDS:${PN} = "python3-core python3-json python3-netserver python3-netclient"
