// The Go test app of rootfs-templates/build.sh --app: a main package with a module
// dependency, built static. It proves it runs where it should: it reads the template's
// CA bundle and its own environment, then prints one "ok" line (or fails when given
// any argument).
package main

import (
	"crypto/x509"
	"fmt"
	"os"
	"time"

	"qing.test/words"
)

func main() {
	// Any argument makes it fail: the tests' check that fails.
	if len(os.Args) > 1 {
		fmt.Println("FAIL greeter: asked to fail with", os.Args[1:])
		os.Exit(3)
	}
	pem, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		fmt.Println("FAIL greeter:", err)
		os.Exit(1)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		fmt.Println("FAIL greeter: no certificate in the CA bundle")
		os.Exit(1)
	}
	fmt.Printf("ok greeter: %s (PORT=%s)\n", words.Greeting("board"), os.Getenv("PORT"))
	// APP_IDLE=1: stay, as a service would, until stopped (tests/bench/templates.sh reads
	// the idle RSS of the app's process then).
	for os.Getenv("APP_IDLE") != "" {
		time.Sleep(time.Hour)
	}
}
