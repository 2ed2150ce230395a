################################################################################
#
# qing
#
################################################################################

# The source is the qing tree this external tree is part of (boards/buildroot).
QING_VERSION = 0.1.0
QING_SITE = $(BR2_EXTERNAL_QING_PATH)/../..
QING_SITE_METHOD = local
# Not the tree's build output and caches: the build starts clean.
QING_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = --exclude target --exclude .cache
QING_LICENSE = MIT or Apache-2.0

# The Rust target of the board's architecture. ARMv7-A runs the Thumb-2, hard-float
# build; the binary is static, so the toolchain's float ABI does not matter.
ifeq ($(BR2_aarch64),y)
QING_RUST_TARGET = aarch64-unknown-linux-musl
else ifeq ($(BR2_ARM_CPU_ARMV7A),y)
QING_RUST_TARGET = armv7-unknown-linux-musleabihf
else ifeq ($(BR2_mipsel),y)
QING_RUST_TARGET = mipsel-unknown-linux-musl
else ifeq ($(BR2_mips),y)
QING_RUST_TARGET = mips-unknown-linux-musl
else ifeq ($(BR2_x86_64),y)
QING_RUST_TARGET = x86_64-unknown-linux-musl
endif

# The cargo features, from the sub-options.
QING_FEATURES = \
	$(if $(BR2_PACKAGE_QING_SQUASHFS),squashfs) \
	$(if $(BR2_PACKAGE_QING_NAMED),named) \
	$(if $(BR2_PACKAGE_QING_BRIDGE),bridge) \
	$(if $(BR2_PACKAGE_QING_EXEC),exec) \
	$(if $(BR2_PACKAGE_QING_TTY),tty) \
	$(if $(BR2_PACKAGE_QING_DEBUG),debug) \
	$(if $(BR2_PACKAGE_QING_SECCOMP),seccomp)
QING_CARGO_FLAGS = --no-default-features \
	$(if $(strip $(QING_FEATURES)),--features $(subst $(space),$(comma),$(strip $(QING_FEATURES))))

# cross/build.sh's cache of C runtimes, .debs and zig (filled by its first run), which
# rootfs-templates/build.sh (qing-templates) shares for its .debs.
QING_CACHE_DIR ?= /var/cache/qing

# The environment qing's own scripts run in, for qing and qing-templates alike: the
# user's rustup and the system's tools, that cache, and nothing of Buildroot's.
QING_CLEAN_ENV = env -i HOME="$(HOME)" QING_CACHE="$(QING_CACHE_DIR)" \
	PATH="$(HOME)/.cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

ifeq ($(BR2_PACKAGE_QING_BUILDROOT_RUST),y)
# Buildroot's Rust (cargo-package): its rustc and prebuilt std. qing's own release
# profile goes over the one Buildroot sets (opt-level from BR2_OPTIMIZE_*, 16 codegen
# units, no LTO), and the binary is static, as the other route's: the container's
# init runs in roots that hold no libc of the board's. ARM keeps the flag
# pkg-cargo.mk would set there.
QING_CARGO_BUILD_OPTS = $(QING_CARGO_FLAGS)
QING_CARGO_ENV = \
	CARGO_PROFILE_RELEASE_OPT_LEVEL="z" \
	CARGO_PROFILE_RELEASE_CODEGEN_UNITS="1" \
	CARGO_PROFILE_RELEASE_LTO="true" \
	CARGO_TARGET_$(call UPPERCASE,$(RUSTC_TARGET_NAME))_RUSTFLAGS="-Ctarget-feature=+crt-static$(if $(filter arm,$(NORMALIZED_ARCH)), -Clink-arg=-Wl$(comma)--allow-multiple-definition)"
QING_BINARY = $(@D)/target/$(RUSTC_TARGET_NAME)/release/qing
else
# The build is qing's own release build, in a clean environment: nothing of
# Buildroot's (CC, CFLAGS, RUSTFLAGS, the host-rust of $(HOST_DIR)/bin) reaches it, so
# the same command run by hand in a copy of the tree gives the same binary.
QING_BUILD_COMMAND = $(QING_CLEAN_ENV) \
	./cross/build.sh $(QING_RUST_TARGET) $(QING_CARGO_FLAGS)

define QING_BUILD_CMDS
	cd $(@D) && $(QING_BUILD_COMMAND)
endef
QING_BINARY = $(@D)/target/$(QING_RUST_TARGET)/release/qing
endif

define QING_INSTALL_TARGET_CMDS
	$(INSTALL) -D -m 0755 $(QING_BINARY) \
		$(TARGET_DIR)/usr/bin/qing
	$(INSTALL) -D -m 0644 $(@D)/boards/sysvinit/qing.default \
		$(TARGET_DIR)/etc/default/qing
	mkdir -p $(TARGET_DIR)/etc/qing
endef

# The init script starts the containers marked autostart, in their order.
define QING_INSTALL_INIT_SYSV
	$(INSTALL) -D -m 0755 $(@D)/boards/sysvinit/qing \
		$(TARGET_DIR)/etc/init.d/S95qing
endef

# qing@NAME runs the container NAME (systemctl enable qing@NAME).
define QING_INSTALL_INIT_SYSTEMD
	$(INSTALL) -D -m 0644 $(@D)/boards/systemd/qing@.service \
		$(TARGET_DIR)/usr/lib/systemd/system/qing@.service
endef

# The kernel options of each build option: generated from src/kernel.rs by
# boards/kernel/generate.sh (do not edit by hand; run it after changing the list).
define QING_LINUX_CONFIG_FIXUPS_CORE
	$(call KCONFIG_ENABLE_OPT,CONFIG_NAMESPACES)
	$(call KCONFIG_ENABLE_OPT,CONFIG_UTS_NS)
	$(call KCONFIG_ENABLE_OPT,CONFIG_IPC_NS)
	$(call KCONFIG_ENABLE_OPT,CONFIG_PID_NS)
	$(call KCONFIG_ENABLE_OPT,CONFIG_NET_NS)
	$(call KCONFIG_ENABLE_OPT,CONFIG_CGROUPS)
	$(call KCONFIG_ENABLE_OPT,CONFIG_MEMCG)
	$(call KCONFIG_ENABLE_OPT,CONFIG_CGROUP_PIDS)
	$(call KCONFIG_ENABLE_OPT,CONFIG_CGROUP_SCHED)
	$(call KCONFIG_ENABLE_OPT,CONFIG_FAIR_GROUP_SCHED)
	$(call KCONFIG_ENABLE_OPT,CONFIG_CFS_BANDWIDTH)
	$(call KCONFIG_ENABLE_OPT,CONFIG_TMPFS)
	$(call KCONFIG_ENABLE_OPT,CONFIG_UNIX98_PTYS)
	$(call KCONFIG_ENABLE_OPT,CONFIG_POSIX_MQUEUE)
	$(call KCONFIG_ENABLE_OPT,CONFIG_OVERLAY_FS)
	$(call KCONFIG_ENABLE_OPT,CONFIG_SECCOMP)
	$(call KCONFIG_ENABLE_OPT,CONFIG_SECCOMP_FILTER)
endef
define QING_LINUX_CONFIG_FIXUPS_SQUASHFS
	$(call KCONFIG_ENABLE_OPT,CONFIG_SQUASHFS)
	$(call KCONFIG_ENABLE_OPT,CONFIG_SQUASHFS_XZ)
	$(call KCONFIG_ENABLE_OPT,CONFIG_SQUASHFS_ZSTD)
	$(call KCONFIG_ENABLE_OPT,CONFIG_BLK_DEV_LOOP)
endef
define QING_LINUX_CONFIG_FIXUPS_BRIDGE
	$(call KCONFIG_ENABLE_OPT,CONFIG_BRIDGE)
	$(call KCONFIG_ENABLE_OPT,CONFIG_VETH)
	$(call KCONFIG_ENABLE_OPT,CONFIG_NETFILTER)
	$(call KCONFIG_ENABLE_OPT,CONFIG_NF_CONNTRACK)
	$(call KCONFIG_ENABLE_OPT,CONFIG_NF_NAT)
	$(call KCONFIG_ENABLE_OPT,CONFIG_NF_TABLES)
	$(call KCONFIG_ENABLE_OPT,CONFIG_NF_TABLES_IPV4)
	$(call KCONFIG_ENABLE_OPT,CONFIG_NFT_NAT)
	$(call KCONFIG_ENABLE_OPT,CONFIG_NFT_MASQ)
	$(call KCONFIG_ENABLE_OPT,CONFIG_NETFILTER_XTABLES)
	$(call KCONFIG_ENABLE_OPT,CONFIG_IP_NF_IPTABLES)
	$(call KCONFIG_ENABLE_OPT,CONFIG_IP_NF_NAT)
	$(call KCONFIG_ENABLE_OPT,CONFIG_IP_NF_TARGET_MASQUERADE)
endef
# End of the generated part.

define QING_LINUX_CONFIG_FIXUPS
	$(QING_LINUX_CONFIG_FIXUPS_CORE)
	$(if $(BR2_PACKAGE_QING_SQUASHFS),$(QING_LINUX_CONFIG_FIXUPS_SQUASHFS))
	$(if $(BR2_PACKAGE_QING_BRIDGE),$(QING_LINUX_CONFIG_FIXUPS_BRIDGE))
endef

ifeq ($(BR2_PACKAGE_QING_BUILDROOT_RUST),y)
$(eval $(cargo-package))
else
$(eval $(generic-package))
endif
