#!/bin/sh
# tests/common/certs.sh DIR: throwaway certificates for the tests' TLS servers, made in
# DIR with the openssl CLI: ca.crt (a CA made here, for two days), and server.crt and
# server.key for "localhost" and 127.0.0.1, signed by it. server.key is readable by
# anyone, so that a container's user can read it; it protects nothing.
set -eu
[ $# = 1 ] || { echo "usage: tests/common/certs.sh DIR" >&2; exit 2; }
mkdir -p "$1"
cd "$1"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 \
    -subj "/CN=qing test CA" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >ext.cnf
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
    -out server.crt -days 2 -extfile ext.cnf
chmod 0644 server.key
