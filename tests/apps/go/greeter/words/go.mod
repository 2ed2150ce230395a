module qing.test/words

go 1.19
