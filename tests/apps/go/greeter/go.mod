module qing.test/greeter

go 1.19

// A dependency outside the standard library, as a local module: template builds are
// offline, so an app's dependencies are vendored or replaced by local copies.
require qing.test/words v0.0.0

replace qing.test/words => ./words
