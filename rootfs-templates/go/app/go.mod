module qing.local/sample

go 1.19
