"""paho-mqtt 2.x: a subscriber and a publisher through the small broker of broker.py
(started here on loopback): messages at QoS 0 and 1 arrive, the QoS 1 publish is
acknowledged, and an idle client's keepalive ping is answered. Prints `ok mqtt: ...` and
exits 0, or says what failed and exits 1."""
import importlib.metadata
import os
import queue
import sys
import time

import paho.mqtt.client as mqtt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from broker import Broker  # noqa: E402  (beside this file)

TIMEOUT = 10


def client(name, port, keepalive=60):
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name)
    connected = queue.Queue()
    c.on_connect = lambda c, userdata, flags, reason, props: connected.put(reason)
    c.connect("127.0.0.1", port, keepalive=keepalive)
    c.loop_start()
    reason = connected.get(timeout=TIMEOUT)
    if reason.is_failure:
        raise RuntimeError(f"{name}: CONNACK {reason}")
    return c


def main():
    broker = Broker(("127.0.0.1", 0)).start()
    port = broker.address[1]
    received, subscribed = queue.Queue(), queue.Queue()
    sub = pub = None
    try:
        # keepalive 1: idle for a second, the subscriber must ping and get its PINGRESP.
        sub = client("board-sub", port, keepalive=1)
        sub.on_message = lambda c, userdata, msg: received.put((msg.topic, msg.payload, msg.qos))
        sub.on_subscribe = lambda c, userdata, mid, codes, props: subscribed.put(codes)
        sub.subscribe("board/+/temp", qos=1)
        codes = subscribed.get(timeout=TIMEOUT)
        if [c.value for c in codes] != [1]:
            print(f"FAIL mqtt: SUBACK granted {codes}")
            return 1
        pub = client("board-pub", port)
        pub.publish("board/uart0/temp", b"21.5", qos=0)
        info = pub.publish("board/uart1/temp", b"22.0", qos=1)
        pub.publish("board/uart1/humidity", b"40", qos=1)  # matches no subscription
        info.wait_for_publish(TIMEOUT)
        if not info.is_published():
            print("FAIL mqtt: the QoS 1 publish got no PUBACK")
            return 1
        got = sorted(received.get(timeout=TIMEOUT) for _ in range(2))
        want = [("board/uart0/temp", b"21.5", 0), ("board/uart1/temp", b"22.0", 1)]
        if got != want:
            print(f"FAIL mqtt: the subscriber got {got}, not {want}")
            return 1
        deadline = time.monotonic() + TIMEOUT
        while broker.seen["PINGREQ"] == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        if not broker.seen["PINGREQ"] or not sub.is_connected():
            print(f"FAIL mqtt: no keepalive ping (broker saw {dict(broker.seen)})")
            return 1
        if not received.empty():
            print(f"FAIL mqtt: a message for an unsubscribed topic arrived: {received.get()}")
            return 1
    finally:
        for c in (sub, pub):
            if c is not None:
                c.disconnect()
                c.loop_stop()
        broker.stop()
    print(f"ok mqtt: paho-mqtt {importlib.metadata.version('paho-mqtt')} published at QoS 0 "
          f"and 1 (acknowledged), subscribed with a wildcard, pinged; broker saw "
          f"{', '.join(f'{k} {v}' for k, v in sorted(broker.seen.items()))}")
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
