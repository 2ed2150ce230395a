SUMMARY = "qing container template: the distro's Python 3 and a sample JSON service"
DESCRIPTION = "The python template of qing made from the distro's own python3 \
               packages: python3-core with the modules the sample service needs, \
               as a squashfs image and manifest for qing import."
LICENSE = "MIT"

inherit qing_template

# The interpreter and what http.server and json pull in, and the sample service.
# Add the python3-* packages an application needs (python3-modules: the whole
# standard library).
IMAGE_INSTALL = "base-files base-passwd python3-core python3-json python3-netserver \
                 python3-netclient python3-html python3-email qing-sample-python"

QING_TEMPLATE_COMMAND = '["${bindir}/python3", "/app/service.py"]'
QING_TEMPLATE_ENV = '["PATH=/usr/local/bin:/usr/bin:/bin", "PORT=8080", "PYTHONUTF8=1", "PYTHONDONTWRITEBYTECODE=1"]'
QING_TEMPLATE_WORKDIR = "/app"
