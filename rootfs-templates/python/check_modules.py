"""check_modules.py [CA_CERT SERVER_CERT SERVER_KEY] -- proves, inside a container of the
python template, that the trimmed CPython really works. Not shipped in the template:
tests mount it in and run `python3 check_modules.py`.

Prints one line per check ("ok" or "FAIL", a name, a detail) and `ALL OK` at the end;
exits 0 only when every check passed. Everything runs on loopback and in /tmp (the
root may be read-only). With the three paths (PEM files: a CA certificate, a server
certificate for "localhost" signed by it, the server's key), it also runs a TLS server
in a thread and a verifying client against it. Throwaway files that fit, made on the
host (the key readable by the container's user) by tests/common/certs.sh.
"""
import sys
import time

results = []
t0 = time.monotonic()


def check(name):
    """Decorator: runs the check at once and records ok/FAIL with its detail line."""
    def run(fn):
        try:
            detail = fn()
            ok = True
        except Exception as e:  # a check that raises has failed; go on with the rest
            detail, ok = f"{type(e).__name__}: {e}", False
        results.append(ok)
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail if detail is not None else ''}", flush=True)
        return fn
    return run


def serve_in_thread(server):
    """Starts a socketserver-style server on a daemon thread; returns it."""
    import threading
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@check("python")
def _():
    import platform
    return f"{sys.version.split()[0]} {platform.machine()} prefix={sys.prefix} utf8_mode={sys.flags.utf8_mode}"


@check("frozen")
def _():
    # The zip leaves out the modules compiled into the binary (deep-frozen); prove that
    # this binary really has them all frozen.
    import importlib.machinery
    names = ["abc", "codecs", "io", "_collections_abc", "_sitebuiltins", "genericpath",
             "ntpath", "posixpath", "os", "site", "stat", "importlib.util",
             "importlib.machinery", "runpy", "zipimport"]
    missing = [n for n in names if importlib.machinery.FrozenImporter.find_spec(n) is None]
    assert not missing, f"not frozen: {missing}"
    import os
    assert os.__spec__.origin == "frozen", os.__spec__
    return f"{len(names)} modules frozen"


@check("import every shipped module")
def _():
    import importlib
    import os
    import warnings
    import zipfile
    names = set()
    for zpath in sys.path:
        if zpath.endswith(".zip") and os.path.isfile(zpath):
            for entry in zipfile.ZipFile(zpath).namelist():
                if entry.endswith(".pyc"):
                    mod = entry[:-4].replace("/", ".")
                    names.add(mod[:-9] if mod.endswith(".__init__") else mod)
        elif zpath.endswith("lib-dynload") and os.path.isdir(zpath):
            names.update(f.split(".")[0] for f in os.listdir(zpath) if f.endswith(".so"))
    failed = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # imp, sre_* and the like warn on import
        for name in sorted(names):
            try:
                importlib.import_module(name)
            except Exception as e:
                failed.append(f"{name} ({type(e).__name__}: {e})")
    assert len(names) > 200, f"only {len(names)} modules found on {sys.path}"
    assert not failed, "; ".join(failed)
    return f"{len(names)} modules"


@check("json")
def _():
    import json
    obj = {"name": "qing", "numbers": [1, 2, 3], "nested": {"ok": True, "x": None, "f": 1.5}, "u": "h\u00e9\u2603"}
    text = json.dumps(obj, sort_keys=True)
    assert json.loads(text) == obj and json.loads(text.encode("utf-16")) == obj
    import json.decoder
    assert json.decoder.c_scanstring is not None, "no C speed-ups (_json)"
    return text[:40] + "..."


@check("re")
def _():
    import re
    m = re.fullmatch(r"(?P<user>\w+)@(?P<host>[\w.]+)", "app@example.org")
    assert m and m["host"] == "example.org"
    assert re.sub(r"\s+", " ", "a \t\n b", flags=re.M) == "a b"
    assert re.findall(r"(?i)\bQING\b", "qing Qing qingx") == ["qing", "Qing"]
    return "match, sub, findall"


@check("datetime")
def _():
    import datetime as dt
    t = dt.datetime(2024, 2, 29, 12, 30, tzinfo=dt.timezone.utc)
    assert dt.datetime.fromisoformat(t.isoformat()) == t
    assert dt.datetime.strptime("2024-02-29 12:30", "%Y-%m-%d %H:%M").replace(tzinfo=dt.timezone.utc) == t
    assert (t + dt.timedelta(days=1)).strftime("%a %d %b") == "Fri 01 Mar"
    now = dt.datetime.now(dt.timezone.utc)
    assert now.year >= 2024
    return now.isoformat(timespec="seconds")


@check("socket")
def _():
    import socket
    srv = socket.create_server(("127.0.0.1", 0))
    port = srv.getsockname()[1]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        conn, _ = srv.accept()
        c.sendall(b"ping")
        assert conn.recv(4) == b"ping"
        conn.sendall(b"pong")
        assert c.recv(4) == b"pong"
        conn.close()
    srv.close()
    a, b = socket.socketpair()
    a.sendall(b"x")
    assert b.recv(1) == b"x"
    a.close(), b.close()
    assert socket.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM) or True
    return f"tcp echo on 127.0.0.1:{port}, socketpair, hostname={socket.gethostname()}"


def http_server():
    import json
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class H(BaseHTTPRequestHandler):
        def do_GET(self):
            self.reply({"path": self.path})

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            self.reply({"path": self.path, "got": json.loads(body)})

        def reply(self, obj):
            data = json.dumps(obj).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), H)


@check("http.server + http.client + urllib.request")
def _():
    import http.client
    import json
    import urllib.parse
    import urllib.request
    srv = serve_in_thread(http_server())
    port = srv.server_address[1]
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("POST", "/a?b=1", body=json.dumps({"n": 1}), headers={"Content-Type": "application/json"})
        r = c.getresponse()
        assert r.status == 200 and r.headers["Content-Type"] == "application/json"
        assert json.loads(r.read()) == {"path": "/a?b=1", "got": {"n": 1}}
        c.close()
        url = f"http://127.0.0.1:{port}/x?" + urllib.parse.urlencode({"q": "a b"})
        with urllib.request.urlopen(url, timeout=5) as r:
            assert json.loads(r.read()) == {"path": "/x?q=a+b"}
        req = urllib.request.Request(f"http://localhost:{port}/y", data=b'{"m": 2}', method="POST")
        with urllib.request.urlopen(req, timeout=5) as r:
            assert json.loads(r.read())["got"] == {"m": 2}
    finally:
        srv.shutdown()
    return f"GET and POST on 127.0.0.1:{port} and localhost"


@check("threading, queue, concurrent.futures")
def _():
    import concurrent.futures
    import queue
    import threading
    q = queue.Queue()
    lock = threading.Lock()
    total = [0]

    def work(i):
        with lock:
            total[0] += i
        q.put(i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert total[0] == 45 and q.qsize() == 10
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        assert sum(ex.map(lambda x: x * x, range(10))) == 285
    return "10 threads, Lock, Queue, ThreadPoolExecutor"


@check("logging")
def _():
    import io
    import logging
    buf = io.StringIO()
    log = logging.getLogger("check")
    h = logging.StreamHandler(buf)
    h.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    log.addHandler(h)
    log.setLevel(logging.INFO)
    log.info("hello %s", "qing")
    log.debug("hidden")
    import logging.handlers  # noqa: F401  (imports socket, pickle, queue)
    assert buf.getvalue() == "INFO check hello qing\n", buf.getvalue()
    return buf.getvalue().strip()


@check("hashlib, hmac, secrets")
def _():
    import hashlib
    import hmac
    import secrets
    assert hashlib.sha256(b"abc").hexdigest() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert hashlib.md5(b"abc").hexdigest() == "900150983cd24fb0d6963f7d28e17f72"
    assert hashlib.new("sha512", b"").hexdigest().startswith("cf83e135")
    assert hashlib.sha3_256(b"").hexdigest().startswith("a7ffc6f8")
    assert hashlib.blake2b(b"").hexdigest().startswith("786a02f7")
    assert hmac.new(b"key", b"msg", "sha256").hexdigest().startswith("2d93cbc1")
    dk = hashlib.pbkdf2_hmac("sha256", b"password", b"salt", 1, 32)
    assert dk.hex().startswith("120fb6cffcf8b32c"), dk.hex()
    assert len(secrets.token_hex(16)) == 32
    assert "_hashlib" in vars(hashlib), "no OpenSSL hashes (_hashlib)"
    return "sha256, md5, sha512, sha3, blake2, hmac, pbkdf2 (OpenSSL)"


@check("struct, base64, binascii, zlib, gzip")
def _():
    import base64
    import binascii
    import gzip
    import struct
    import zlib
    b = struct.pack("<IhQd", 1, -2, 3, 4.5)
    assert struct.unpack("<IhQd", b) == (1, -2, 3, 4.5) and len(b) == 22
    assert base64.b64decode(base64.b64encode(b"qing")) == b"qing"
    assert binascii.crc32(b"qing") == zlib.crc32(b"qing")
    data = b"x" * 10000
    assert zlib.decompress(zlib.compress(data)) == data
    assert gzip.decompress(gzip.compress(data)) == data
    return f"zlib {zlib.ZLIB_RUNTIME_VERSION}"


@check("sqlite3")
def _():
    import os
    import sqlite3
    import tempfile
    for where in (":memory:", os.path.join(tempfile.mkdtemp(), "check.db")):
        db = sqlite3.connect(where)
        db.execute("create table t (k text primary key, v integer)")
        db.executemany("insert into t values (?, ?)", [("a", 1), ("b", 2), ("c", 3)])
        db.commit()
        assert db.execute("select sum(v) from t").fetchone() == (6,)
        assert db.execute("select json_extract('{\"x\": [5]}', '$.x[0]')").fetchone() == (5,)
        db.close()
    again = sqlite3.connect(where)
    assert again.execute("select count(*) from t").fetchone() == (3,)
    again.close()
    os.unlink(where)
    os.rmdir(os.path.dirname(where))
    return f"SQLite {sqlite3.sqlite_version}, :memory: and {where}"


@check("ssl default context")
def _():
    import ssl
    ctx = ssl.create_default_context()
    stats = ctx.cert_store_stats()
    assert stats["x509_ca"] > 100, stats
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    return f"{ssl.OPENSSL_VERSION}, {stats['x509_ca']} CAs from {ssl.get_default_verify_paths().cafile}"


if len(sys.argv) == 4:
    @check("TLS handshake on loopback")
    def _():
        import http.client
        import json
        import socket
        import ssl
        import urllib.request
        ca, cert, key = sys.argv[1:4]
        server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_ctx.load_cert_chain(cert, key)
        srv = http_server()
        srv.socket = server_ctx.wrap_socket(srv.socket, server_side=True)
        serve_in_thread(srv)
        port = srv.server_address[1]
        try:
            client_ctx = ssl.create_default_context(cafile=ca)
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                with client_ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                    version, cipher = tls.version(), tls.cipher()[0]
                    peer = dict(x[0] for x in tls.getpeercert()["subject"])
                    tls.sendall(b"GET /raw HTTP/1.0\r\n\r\n")
                    answer = b""
                    while chunk := tls.recv(4096):
                        answer += chunk
                    assert answer.startswith(b"HTTP/1.0 200"), answer[:40]
            with urllib.request.urlopen(f"https://localhost:{port}/u", context=client_ctx, timeout=5) as r:
                assert json.loads(r.read()) == {"path": "/u"}
            # The system CAs do not know the throwaway CA: verification must refuse it.
            c = http.client.HTTPSConnection("localhost", port, timeout=5, context=ssl.create_default_context())
            try:
                c.request("GET", "/")
                raise AssertionError("a certificate from an unknown CA was accepted")
            except ssl.SSLCertVerificationError:
                pass
            finally:
                c.close()
            # Nor may a client accept the right certificate for the wrong name.
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                    client_ctx.wrap_socket(raw, server_hostname="wrong.example").close()
                raise AssertionError("a certificate for another host name was accepted")
            except ssl.SSLCertVerificationError:
                pass
        finally:
            srv.shutdown()
        return f"{version} {cipher}, server CN={peer.get('commonName')}, urllib over https, unknown CA and wrong name refused"
elif len(sys.argv) != 1:
    sys.exit("usage: check_modules.py [CA_CERT SERVER_CERT SERVER_KEY]")


@check("asyncio")
def _():
    import asyncio

    async def main():
        async def echo(reader, writer):
            writer.write((await reader.readline()).upper())
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"qing\n")
        line = await asyncio.wait_for(reader.readline(), 5)
        writer.close()
        server.close()
        await server.wait_closed()
        results = await asyncio.gather(*(asyncio.sleep(0.01, i) for i in range(5)))
        return line, results

    line, results = asyncio.run(main())
    assert line == b"QING\n" and results == [0, 1, 2, 3, 4]
    import _asyncio  # noqa: F401  (the C Future and Task)
    return "streams echo, gather, with _asyncio"


@check("os, io, subprocess, signal, select, selectors")
def _():
    import io
    import os
    import select
    import selectors
    import signal
    import subprocess
    out = subprocess.run([sys.executable, "-c", "import sys; print(sys.argv[1])", "child"],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    assert out == "child\n", out
    got = []
    old = signal.signal(signal.SIGUSR1, lambda *a: got.append(a[0]))
    os.kill(os.getpid(), signal.SIGUSR1)
    signal.signal(signal.SIGUSR1, old)
    assert got == [signal.SIGUSR1]
    r, w = os.pipe()
    os.write(w, b"z")
    assert select.select([r], [], [], 1)[0] == [r]
    sel = selectors.DefaultSelector()
    sel.register(r, selectors.EVENT_READ)
    assert sel.select(1)
    sel.close(), os.close(r), os.close(w)
    assert io.TextIOWrapper(io.BytesIO("é\n".encode()), encoding="utf-8").read() == "é\n"
    return f"subprocess, SIGUSR1, pipe with select and {type(sel).__name__}, uid={os.getuid()}"


@check("files: tempfile, shutil, pathlib, csv, glob")
def _():
    import csv
    import glob
    import pathlib
    import shutil
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        p = pathlib.Path(d) / "a.csv"
        with p.open("w", newline="") as f:
            csv.writer(f).writerows([["k", "v"], ["é", "1"]])
        shutil.copy(p, pathlib.Path(d) / "b.csv")
        with open(pathlib.Path(d) / "b.csv", newline="") as f:
            assert list(csv.DictReader(f)) == [{"k": "é", "v": "1"}]
        assert sorted(pathlib.Path(x).name for x in glob.glob(f"{d}/*.csv")) == ["a.csv", "b.csv"]
        shutil.make_archive(f"{d}/arch", "zip", d)
        assert (pathlib.Path(d) / "arch.zip").stat().st_size > 0
        where = d
    return f"in {where}"


@check("text: encodings, locale, unicodedata, string, textwrap")
def _():
    import codecs
    import locale
    import string
    import textwrap
    import unicodedata
    s = "naïve café ☃"
    for enc in ("utf-8", "utf-16", "utf-32", "utf-8-sig"):
        assert s.encode(enc).decode(enc) == s
    assert "café".encode("latin-1") == b"caf\xe9" and "cafe".encode("ascii") == b"cafe"
    assert "bücher.example".encode("idna") == b"xn--bcher-kva.example"
    assert codecs.encode(b"qing", "hex") == b"71696e67" and codecs.encode("qing", "rot13") == "dvat"
    try:
        loc = locale.setlocale(locale.LC_ALL, "")
    except locale.Error:
        import os
        env = {k: v for k, v in os.environ.items() if k.startswith("LC_") or k == "LANG"}
        raise AssertionError(f"setlocale(LC_ALL, '') fails with {env}: the template has no locale "
                             "but C (glibc's C.UTF-8 is a file); leave LANG unset, UTF-8 mode does the rest")
    assert unicodedata.normalize("NFC", "e\u0301") == "é" and unicodedata.name("☃") == "SNOWMAN"
    assert string.Template("$a-$b").substitute(a=1, b=2) == "1-2"
    assert textwrap.wrap("a b c d", 3) == ["a b", "c d"]
    return f"locale {loc!r}, preferred {locale.getpreferredencoding(False)}, fs {sys.getfilesystemencoding()}"


@check("data: decimal, fractions, statistics, random, uuid, pickle, copy, dataclasses, enum, typing")
def _():
    import copy
    import dataclasses
    import decimal
    import enum
    import fractions
    import pickle
    import random
    import statistics
    import typing
    import uuid
    assert decimal.Decimal("0.1") + decimal.Decimal("0.2") == decimal.Decimal("0.3")
    assert fractions.Fraction(1, 3) * 3 == 1 and statistics.median([3, 1, 2]) == 2
    r = random.Random(1)
    assert r.randint(1, 6) in range(1, 7)
    u = uuid.uuid4()
    assert u.version == 4 and uuid.UUID(str(u)) == u and uuid.uuid1().version == 1

    # pickle finds classes by module-level name
    global P, Color

    @dataclasses.dataclass(frozen=True)
    class P:
        x: int
        tags: typing.List[str] = dataclasses.field(default_factory=list)

    class Color(enum.Enum):
        RED = 1

    P.__qualname__, Color.__qualname__ = "P", "Color"
    p = P(1, ("a",))
    assert pickle.loads(pickle.dumps(p)) == p and copy.deepcopy(p) == p
    assert pickle.loads(pickle.dumps(Color.RED)) is Color.RED
    return f"uuid4 {u}"


@check("formats: email, html, xml, mimetypes, tomllib, configparser, ipaddress, argparse, calendar")
def _():
    import argparse
    import calendar
    import configparser
    import email
    import email.message
    import email.policy
    import html
    import ipaddress
    import mimetypes
    import tomllib
    import xml.etree.ElementTree as ET
    m = email.message.EmailMessage()
    m["From"], m["To"], m["Subject"] = "a@example.org", "b@example.org", "héllo"
    m.set_content("body ✓")
    back = email.message_from_bytes(m.as_bytes(), policy=email.policy.default)
    assert back["Subject"] == "héllo" and back.get_content().strip() == "body ✓"
    assert html.escape("<a&b>") == "&lt;a&amp;b&gt;" and html.unescape("&eacute;") == "é"
    assert ET.fromstring("<a><b x='1'>t</b></a>").find("b").get("x") == "1"
    assert mimetypes.guess_type("x.json")[0] == "application/json"
    assert tomllib.loads('a = 1\n[t]\nb = "c"')["t"]["b"] == "c"
    cp = configparser.ConfigParser()
    cp.read_string("[s]\nk = v\n")
    assert cp["s"]["k"] == "v"
    assert ipaddress.ip_address("127.0.0.1") in ipaddress.ip_network("127.0.0.0/8")
    ap = argparse.ArgumentParser(prog="x")
    ap.add_argument("--n", type=int, default=1)
    assert ap.parse_args(["--n", "3"]).n == 3
    assert calendar.isleap(2024)
    return "EmailMessage round trip, html, ElementTree, mimetypes, tomllib, configparser"


failed = results.count(False)
print(f"checks took {time.monotonic() - t0:.1f}s")
print(f"{len(results) - failed} passed, {failed} failed")
if failed:
    sys.exit(1)
print("ALL OK")
