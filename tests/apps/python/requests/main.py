"""requests against a local HTTPS server (http.server + ssl on loopback, in a thread),
verifying it with the test's CA, and certifi's bundle present. The certificates are
throwaway files the test makes with the openssl CLI (see
rootfs-templates/python/check_modules.py) and puts beside this file: ca.crt, and
server.crt and server.key for "localhost". Prints `ok requests: ...` and exits 0, or
says what failed and exits 1."""
import http.server
import importlib.metadata
import json
import os
import ssl
import sys
import threading
import time

import certifi
import charset_normalizer  # requests' encoding detection: a compiled (mypyc) wheel
import requests

HERE = os.path.dirname(os.path.abspath(__file__))


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"path": self.path, "tls": self.request.version()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # the one line this prints is the result
        pass


def main():
    missing = [f for f in ("ca.crt", "server.crt", "server.key") if not os.path.exists(os.path.join(HERE, f))]
    if missing:
        print(f"FAIL requests: no {', '.join(missing)} beside {__file__} (the test makes them)")
        return 1
    if requests.compat.chardet is not charset_normalizer:
        print("FAIL requests: requests found no character detection library")
        return 1
    bundle = certifi.where()
    with open(bundle) as f:
        roots = f.read().count("BEGIN CERTIFICATE")
    if roots < 50:
        print(f"FAIL requests: certifi's bundle {bundle} holds {roots} certificates")
        return 1

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(os.path.join(HERE, "server.crt"), os.path.join(HERE, "server.key"))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"https://localhost:{server.server_port}/board"
    try:
        answer = requests.get(url, verify=os.path.join(HERE, "ca.crt"), timeout=10)
        answer.raise_for_status()
        got = answer.json()
        # Without the test's CA (certifi's roots only) the same server must be refused.
        try:
            requests.get(url, timeout=10)
            print("FAIL requests: a server certificate of an unknown CA was accepted")
            return 1
        except requests.exceptions.SSLError:
            pass
    finally:
        server.shutdown()
    if got.get("path") != "/board":
        print(f"FAIL requests: GET {url} answered {got}")
        return 1
    print(f"ok requests: requests {importlib.metadata.version('requests')} GET {url} over "
          f"{got['tls']} verified by the test CA; an unknown CA refused; certifi "
          f"{importlib.metadata.version('certifi')} holds {roots} roots; charset-normalizer "
          f"{importlib.metadata.version('charset-normalizer')} loaded")
    return 0


if __name__ == "__main__":
    status = main()
    # APP_IDLE=1: stay, as a service would, until stopped (tests/bench/templates.sh reads
    # the idle RSS of the app's process then).
    if status == 0 and os.environ.get("APP_IDLE"):
        sys.stdout.flush()
        while True:
            time.sleep(3600)
    sys.exit(status)
