# An image that is a qing container template, made from the distro's own packages.
#
# The image's root (no kernel, no boot files, no package manager) becomes what qing's
# rootfs-templates/build.sh writes from Debian's: NAME.squashfs (xz) and its manifest
# NAME.json (name, arch, sha256, sizes, the default command, environment and working
# directory), in DEPLOY_DIR_IMAGE, ready for `qing import NAME.json` on the board or
# for an image's /var/lib/qing/templates.
#
#   QING_TEMPLATE_NAME     the template's name (default: PN less "qing-template-")
#   QING_TEMPLATE_COMMAND  the default command, a JSON array of strings
#   QING_TEMPLATE_ENV      its environment, a JSON array of "KEY=VALUE" strings
#   QING_TEMPLATE_WORKDIR  its working directory, absolute

inherit image

QING_TEMPLATE_NAME ?= "${@d.getVar('PN').replace('qing-template-', '', 1)}"
QING_TEMPLATE_COMMAND ?= '["/bin/sh"]'
QING_TEMPLATE_ENV ?= '["PATH=/usr/bin:/bin"]'
QING_TEMPLATE_WORKDIR ?= "/"

IMAGE_FSTYPES = "squashfs-xz"
IMAGE_FEATURES = ""
IMAGE_LINGUAS = ""
NO_RECOMMENDATIONS = "1"
# A container's root has no kernel: none to deploy, no modules to index.
KERNEL_DEPLOY_DEPEND = ""
KERNELDEPMODDEPEND = ""

# qing names architectures as Debian does (its templates are made from Debian's).
def qing_template_arch(d):
    arch = d.getVar('TARGET_ARCH')
    if arch == 'aarch64':
        return 'arm64'
    if arch == 'x86_64':
        return 'amd64'
    if arch == 'arm':
        hard = 'callconvention-hard' in (d.getVar('TUNE_FEATURES') or '').split()
        return 'armhf' if hard else 'armel'
    return arch

QING_TEMPLATE_ARCH = "${@qing_template_arch(d)}"

python qing_template_manifest () {
    import hashlib
    import json
    import os
    import re
    import shutil

    name = d.getVar('QING_TEMPLATE_NAME')
    if not re.fullmatch(r'[A-Za-z0-9][A-Za-z0-9_.-]*', name):
        bb.fatal('QING_TEMPLATE_NAME "%s" is not a template name: letters, digits, "_", "." and "-"' % name)

    def strings(var):
        try:
            value = json.loads(d.getVar(var))
        except ValueError as e:
            bb.fatal('%s is not JSON (%s): give a JSON array of strings' % (var, e))
        if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
            bb.fatal('%s must be a JSON array of strings' % var)
        return value

    command = strings('QING_TEMPLATE_COMMAND')
    env = strings('QING_TEMPLATE_ENV')
    workdir = d.getVar('QING_TEMPLATE_WORKDIR')
    if not workdir.startswith('/'):
        bb.fatal('QING_TEMPLATE_WORKDIR "%s" must be an absolute path' % workdir)

    deploy = d.getVar('IMGDEPLOYDIR')
    image = os.path.join(deploy, d.getVar('IMAGE_NAME') + '.squashfs-xz')
    squashfs = os.path.join(deploy, name + '.squashfs')
    shutil.copyfile(image, squashfs)
    sha256 = hashlib.sha256()
    with open(squashfs, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            sha256.update(block)
    directory = 0
    for top, dirs, files in os.walk(d.getVar('IMAGE_ROOTFS')):
        for entry in files:
            directory += os.lstat(os.path.join(top, entry)).st_size
    manifest = {
        'name': name,
        'arch': d.getVar('QING_TEMPLATE_ARCH'),
        'squashfs': name + '.squashfs',
        'sha256': sha256.hexdigest(),
        'compression': 'xz',
        'size': {'directory': directory, 'squashfs': os.path.getsize(squashfs)},
        'command': command,
        'env': env,
        'workdir': workdir,
        'created': int(d.getVar('SOURCE_DATE_EPOCH') or 0),
        'variant': 'yocto',
    }
    with open(os.path.join(deploy, name + '.json'), 'w') as f:
        json.dump(manifest, f, indent=2)
        f.write('\n')
}
IMAGE_POSTPROCESS_COMMAND += "qing_template_manifest"
