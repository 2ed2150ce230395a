"""PyYAML's pure-Python path (yaml.SafeLoader and yaml.SafeDumper, not the libyaml-based
CSafeLoader) round-trips a document: a board's configuration with nesting, lists,
anchors, and the types YAML resolves (int, float, bool, null, dates). Prints
`ok yaml: ...` and exits 0, or says what failed and exits 1."""
import datetime
import importlib.metadata
import os
import sys
import time

import yaml

DOCUMENT = """\
board: &board
  name: gateway-01
  arch: armhf
  memory_mb: 256
  load: 0.75
  watchdog: true
  serial: null
  installed: 2024-05-01
services:
  - name: mqtt
    ports: [1883, 8883]
    board: *board
  - name: "web: admin"
    env: {PORT: "8080", DEBUG: off}
"""


def main():
    data = yaml.load(DOCUMENT, Loader=yaml.SafeLoader)
    board = data["board"]
    want = {"name": "gateway-01", "arch": "armhf", "memory_mb": 256, "load": 0.75,
            "watchdog": True, "serial": None, "installed": datetime.date(2024, 5, 1)}
    if board != want or data["services"][0]["board"] is not board:
        print(f"FAIL yaml: parsed {board!r}")
        return 1
    if data["services"][1] != {"name": "web: admin", "env": {"PORT": "8080", "DEBUG": False}}:
        print(f"FAIL yaml: parsed {data['services'][1]!r}")
        return 1
    text = yaml.dump(data, Dumper=yaml.SafeDumper, sort_keys=True)
    again = yaml.load(text, Loader=yaml.SafeLoader)
    if again != data:
        print(f"FAIL yaml: the dump did not load back the same:\n{text}")
        return 1
    try:
        yaml.load("!!python/object/apply:os.system ['true']", Loader=yaml.SafeLoader)
        print("FAIL yaml: SafeLoader built a Python object")
        return 1
    except yaml.constructor.ConstructorError:
        pass
    print(f"ok yaml: PyYAML {importlib.metadata.version('pyyaml')} (pure-Python SafeLoader and "
          f"SafeDumper) round-tripped {len(text)} bytes; a python/object tag refused")
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
