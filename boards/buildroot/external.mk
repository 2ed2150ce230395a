include $(sort $(wildcard $(BR2_EXTERNAL_QING_PATH)/package/*/*.mk))
