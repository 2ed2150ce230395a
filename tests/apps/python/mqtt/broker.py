"""A small MQTT 3.1.1 broker for the mqtt app (stdlib only): CONNECT/CONNACK,
SUBSCRIBE/SUBACK, UNSUBSCRIBE/UNSUBACK, PUBLISH at QoS 0 and 1 (PUBACK to the
publisher; delivered at the lower of the publish and subscription QoS), PINGREQ/
PINGRESP and DISCONNECT. Topic filters may use '+' and '#'. No retained messages, no
sessions, no QoS 2: enough to prove a client library, not a broker to deploy.

    broker = Broker(("127.0.0.1", 0)); broker.start(); ... broker.stop()
broker.seen counts the packet types it received ("CONNECT", "PINGREQ", ...)."""
import collections
import socketserver
import struct
import threading

CONNECT, CONNACK, PUBLISH, PUBACK = 1, 2, 3, 4
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK = 8, 9, 10, 11
PINGREQ, PINGRESP, DISCONNECT = 12, 13, 14
NAMES = {CONNECT: "CONNECT", PUBLISH: "PUBLISH", PUBACK: "PUBACK", SUBSCRIBE: "SUBSCRIBE",
         UNSUBSCRIBE: "UNSUBSCRIBE", PINGREQ: "PINGREQ", DISCONNECT: "DISCONNECT"}


def matches(pattern, topic):
    """Whether a topic filter (with '+' and '#') matches a topic name."""
    p, t = pattern.split("/"), topic.split("/")
    for i, level in enumerate(p):
        if level == "#":
            return True
        if i >= len(t) or (level != "+" and level != t[i]):
            return False
    return len(p) == len(t)


def packet(kind, flags, body):
    """A fixed header (type, flags, variable-length remaining length) and the body."""
    length, header = len(body), bytearray([kind << 4 | flags])
    while True:
        byte, length = length % 128, length // 128
        header.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(header) + body


def string(data, at):
    """An MQTT UTF-8 string at `at`: (text, offset after it)."""
    (n,) = struct.unpack_from("!H", data, at)
    return data[at + 2:at + 2 + n].decode(), at + 2 + n


class Session(socketserver.BaseRequestHandler):
    def read_exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.request.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def read_packet(self):
        first = self.read_exact(1)[0]
        length, shift = 0, 0
        while True:
            byte = self.read_exact(1)[0]
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        return first >> 4, first & 0x0F, self.read_exact(length)

    def send(self, data):
        with self.lock:
            self.request.sendall(data)

    def handle(self):
        broker = self.server.broker
        self.lock = threading.Lock()
        self.subscriptions = {}  # topic filter: granted QoS
        self.next_id = 0
        try:
            kind, _, body = self.read_packet()
            if kind != CONNECT:
                return
            broker.count("CONNECT")
            self.send(packet(CONNACK, 0, b"\x00\x00"))
            with broker.lock:
                broker.sessions.add(self)
            while True:
                kind, flags, body = self.read_packet()
                broker.count(NAMES.get(kind, f"type {kind}"))
                if kind == PUBLISH:
                    qos = flags >> 1 & 3
                    topic, at = string(body, 0)
                    if qos:
                        (packet_id,) = struct.unpack_from("!H", body, at)
                        at += 2
                    broker.deliver(topic, body[at:], qos)
                    if qos:
                        self.send(packet(PUBACK, 0, struct.pack("!H", packet_id)))
                elif kind == SUBSCRIBE:
                    (packet_id,) = struct.unpack_from("!H", body, 0)
                    at, granted = 2, bytearray()
                    while at < len(body):
                        pattern, at = string(body, at)
                        qos = min(body[at], 1)
                        at += 1
                        self.subscriptions[pattern] = qos
                        granted.append(qos)
                    self.send(packet(SUBACK, 0, struct.pack("!H", packet_id) + bytes(granted)))
                elif kind == UNSUBSCRIBE:
                    (packet_id,) = struct.unpack_from("!H", body, 0)
                    at = 2
                    while at < len(body):
                        pattern, at = string(body, at)
                        self.subscriptions.pop(pattern, None)
                    self.send(packet(UNSUBACK, 0, struct.pack("!H", packet_id)))
                elif kind == PINGREQ:
                    self.send(packet(PINGRESP, 0, b""))
                elif kind == DISCONNECT:
                    return
                # PUBACK from a subscriber: nothing to do without sessions to resend.
        except (EOFError, OSError):
            pass
        finally:
            with broker.lock:
                broker.sessions.discard(self)

    def forward(self, topic, payload, qos):
        granted = [q for pattern, q in list(self.subscriptions.items()) if matches(pattern, topic)]
        if not granted:
            return
        qos = min(qos, max(granted))
        name = struct.pack("!H", len(topic.encode())) + topic.encode()
        if qos:
            self.next_id = self.next_id % 65535 + 1
            name += struct.pack("!H", self.next_id)
        self.send(packet(PUBLISH, qos << 1, name + payload))


class Broker:
    def __init__(self, address):
        self.lock = threading.Lock()
        self.sessions = set()
        self.seen = collections.Counter()
        self.server = socketserver.ThreadingTCPServer(address, Session)
        self.server.daemon_threads = True
        self.server.broker = self
        self.address = self.server.server_address

    def count(self, name):
        with self.lock:
            self.seen[name] += 1

    def deliver(self, topic, payload, qos):
        with self.lock:
            sessions = list(self.sessions)
        for s in sessions:
            try:
                s.forward(topic, payload, qos)
            except OSError:
                pass

    def start(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
