"""A Flask app with a JSON POST route, served by werkzeug's own server on loopback in a
thread; a client posts JSON and checks the answer. Prints `ok flask: ...` and exits 0,
or says what failed and exits 1."""
import http.client
import importlib.metadata
import json
import logging
import os
import sys
import threading
import time

import flask
from werkzeug.serving import make_server

app = flask.Flask(__name__)
# werkzeug logs every request to stderr; the one line this prints is the result.
logging.getLogger("werkzeug").setLevel(logging.ERROR)


@app.post("/sum")
def add():
    numbers = flask.request.get_json()["numbers"]
    return flask.jsonify(sum=sum(numbers), count=len(numbers))


def main():
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
        conn.request("POST", "/sum", json.dumps({"numbers": [1, 2, 39]}),
                     {"Content-Type": "application/json"})
        reply = conn.getresponse()
        body = json.loads(reply.read())
    finally:
        server.shutdown()
    if reply.status != 200 or body != {"sum": 42, "count": 3}:
        print(f"FAIL flask: POST /sum answered {reply.status} {body}")
        return 1
    print(f"ok flask: Flask {importlib.metadata.version('flask')} answered POST /sum with {body}")
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
