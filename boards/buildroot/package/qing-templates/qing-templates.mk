################################################################################
#
# qing-templates
#
################################################################################

# The source is the qing tree this external tree is part of, as for qing itself.
QING_TEMPLATES_VERSION = 0.1.0
QING_TEMPLATES_SITE = $(BR2_EXTERNAL_QING_PATH)/../..
QING_TEMPLATES_SITE_METHOD = local
QING_TEMPLATES_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = --exclude target --exclude .cache
# The templates' own contents carry their packages' licenses (Debian's copyright
# files are in each template, under /usr/share/doc).
QING_TEMPLATES_LICENSE = MIT or Apache-2.0 (build scripts)
QING_TEMPLATES_DEPENDENCIES = qing

QING_TEMPLATES_ARCH = $(call qstrip,$(BR2_PACKAGE_QING_TEMPLATES_ARCH))
QING_TEMPLATES_LIST = \
	$(if $(BR2_PACKAGE_QING_TEMPLATES_BUSYBOX),busybox) \
	$(if $(BR2_PACKAGE_QING_TEMPLATES_PYTHON),python) \
	$(if $(BR2_PACKAGE_QING_TEMPLATES_GO),go) \
	$(if $(BR2_PACKAGE_QING_TEMPLATES_JAVA),java)

# build.sh in the clean environment qing's own build has (qing.mk).
define QING_TEMPLATES_BUILD_CMDS
	$(foreach t,$(QING_TEMPLATES_LIST),
		cd $(@D) && $(QING_CLEAN_ENV) \
			./rootfs-templates/build.sh $(t) $(QING_TEMPLATES_ARCH) $(@D)/out$(sep))
endef

# Installed as `qing import` installs them: NAME.squashfs and NAME.json side by side.
define QING_TEMPLATES_INSTALL_TARGET_CMDS
	$(foreach t,$(QING_TEMPLATES_LIST),
		$(INSTALL) -D -m 0644 $(@D)/out/$(t).squashfs \
			$(TARGET_DIR)/var/lib/qing/templates/$(t).squashfs
		$(INSTALL) -D -m 0644 $(@D)/out/$(t).json \
			$(TARGET_DIR)/var/lib/qing/templates/$(t).json$(sep))
	$(QING_TEMPLATES_INSTALL_AUTOSTART)
endef

QING_TEMPLATES_AUTOSTART = $(call qstrip,$(BR2_PACKAGE_QING_TEMPLATES_AUTOSTART))
QING_TEMPLATES_AUTOSTART_ENV = $(call qstrip,$(BR2_PACKAGE_QING_TEMPLATES_AUTOSTART_ENV))

ifeq ($(BR2_PACKAGE_QING_TEMPLATES),y)
ifneq ($(QING_TEMPLATES_AUTOSTART),)
ifeq ($(filter $(QING_TEMPLATES_AUTOSTART),$(QING_TEMPLATES_LIST)),)
$(error BR2_PACKAGE_QING_TEMPLATES_AUTOSTART is "$(QING_TEMPLATES_AUTOSTART)", which is not a chosen template: choose it, or empty the option)
endif
ifneq ($(findstring ",$(QING_TEMPLATES_AUTOSTART_ENV))$(findstring \,$(QING_TEMPLATES_AUTOSTART_ENV)),)
$(error BR2_PACKAGE_QING_TEMPLATES_AUTOSTART_ENV holds a quote or a backslash: give plain KEY=VALUE words)
endif
endif
endif

# The autostart config, as `qing create --autostart [--net host] [--env ...] NAME NAME`
# writes it.
QING_TEMPLATES_AUTOSTART_JSON = { \
	"rootfs": "$(QING_TEMPLATES_AUTOSTART)", \
	$(if $(QING_TEMPLATES_AUTOSTART_ENV),"env": [$(subst $(space),$(comma)$(space),$(patsubst %,"%",$(QING_TEMPLATES_AUTOSTART_ENV)))]$(comma)) \
	$(if $(BR2_PACKAGE_QING_TEMPLATES_AUTOSTART_NET_HOST),"net": "host"$(comma)) \
	"autostart": true }

ifneq ($(QING_TEMPLATES_AUTOSTART),)
define QING_TEMPLATES_INSTALL_AUTOSTART
	mkdir -p $(TARGET_DIR)/etc/qing
	echo '$(strip $(QING_TEMPLATES_AUTOSTART_JSON))' \
		> $(TARGET_DIR)/etc/qing/$(QING_TEMPLATES_AUTOSTART).json
endef
endif

$(eval $(generic-package))
