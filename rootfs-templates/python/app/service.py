"""The python template's sample service: a JSON greeter on $HOST:$PORT (127.0.0.1:8080
unless set; HOST=0.0.0.0 answers from outside, as on a board's own network).

GET / answers {"runtime": "python", "status": "ok"}; POST / with a JSON object such as
{"name": "qing", "numbers": [1, 2, 3]} answers a greeting, the sum and the object back.
Only the standard library (http.server, json) is used.
"""
import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 1 << 20  # a board has little memory: refuse bodies over 1 MiB


def reply_for(body):
    """(status, object) for a POST body; bad input is a 400, never an exception."""
    try:
        request = json.loads(body)
    except (ValueError, RecursionError) as e:  # ValueError covers bad UTF-8 too
        return 400, {"error": f"body is not JSON: {e}"}
    if not isinstance(request, dict):
        return 400, {"error": "body must be a JSON object"}
    name = request.get("name", "world")
    if not isinstance(name, str):
        return 400, {"error": "name must be a string"}
    numbers = request.get("numbers", [])
    # bool is a subclass of int in Python, but true/false are not numbers in JSON.
    if not isinstance(numbers, list) or not all(
            isinstance(n, int) and not isinstance(n, bool) for n in numbers):
        return 400, {"error": "numbers must be a list of integers"}
    return 200, {"runtime": "python", "greeting": f"hello, {name}",
                 "sum": sum(numbers), "echo": request}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, with Content-Length on every answer
    timeout = 30  # an idle or stalled connection does not hold its thread for ever

    def send_json(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.send_json(200, {"runtime": "python", "status": "ok"})

    def do_POST(self):
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self.close_connection = True  # the body is not read, so the stream is lost
            if length < 0:
                return self.send_json(400, {"error": "bad Content-Length"})
            return self.send_json(413, {"error": f"body over {MAX_BODY} bytes"})
        self.send_json(*reply_for(self.rfile.read(length)))

    def log_message(self, fmt, *args):
        # One line per request on stdout (the default is stderr), flushed so that a
        # container's log shows it at once.
        print(f"{self.address_string()} {fmt % args}", flush=True)


def main():
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8080"))
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True  # open keep-alive connections must not delay exit
    # SIGTERM (forwarded by the container's init) ends the process at once with 0;
    # there is nothing to flush or save.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"listening on {host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
