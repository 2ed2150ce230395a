"""A FastAPI app with a pydantic model, served by uvicorn on loopback (uvicorn.Server in a
thread); a client posts JSON and checks the answer, and a bad body gets pydantic's 422.
pydantic-core is a compiled wheel, so this also proves compiled wheels load. Prints
`ok fastapi: ...` and exits 0, or says what failed and exits 1."""
import http.client
import importlib.metadata
import json
import os
import socket
import sys
import threading
import time

import fastapi
import pydantic
import uvicorn

app = fastapi.FastAPI()


class Reading(pydantic.BaseModel):
    sensor: str
    celsius: float


@app.post("/readings")
def record(reading: Reading):
    return {"sensor": reading.sensor, "fahrenheit": reading.celsius * 9 / 5 + 32}


def post(port, body):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", "/readings", json.dumps(body), {"Content-Type": "application/json"})
    reply = conn.getresponse()
    return reply.status, json.loads(reply.read())


def main():
    # A port of our own, bound before uvicorn starts, so that nothing races for it.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            print("FAIL fastapi: uvicorn did not start")
            return 1
        time.sleep(0.05)
    try:
        good = post(port, {"sensor": "board", "celsius": 100})
        bad = post(port, {"sensor": "board", "celsius": "hot"})
    finally:
        server.should_exit = True
        thread.join(10)
    if good != (200, {"sensor": "board", "fahrenheit": 212.0}):
        print(f"FAIL fastapi: POST /readings answered {good}")
        return 1
    if bad[0] != 422:
        print(f"FAIL fastapi: a bad reading was answered {bad}, not pydantic's 422")
        return 1
    versions = " ".join(f"{d} {importlib.metadata.version(d)}"
                        for d in ("fastapi", "uvicorn", "pydantic", "pydantic-core"))
    print(f"ok fastapi: {versions}: POST /readings -> {good[1]['fahrenheit']}, a bad body -> 422")
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
