# qing's kernel options, only where a distro asks for them (DISTRO_FEATURES "qing"),
# as meta-virtualization does with its own: an unconditional fragment would change the
# kernel of every build that has this layer.
require ${@bb.utils.contains('DISTRO_FEATURES', 'qing', 'linux-yocto-qing.inc', '', d)}
