"""pyserial on a pseudo-terminal pair made here (os.openpty): serial.Serial opens the
slave by its name at 115200 8N1, as it would a board's UART; bytes written on the master
side are read with pyserial, and bytes pyserial writes are read back on the master. This
needs termios (pyserial's POSIX backend), tty and /dev/pts in the container. Prints
`ok serial: ...` and exits 0, or says what failed and exits 1."""
import importlib.metadata
import os
import select
import sys
import termios
import time
import tty

import serial


def read_master(fd, n, timeout=5):
    data = b""
    while len(data) < n:
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            break
        data += os.read(fd, n - len(data))
    return data


def main():
    master, slave = os.openpty()
    name = os.ttyname(slave)
    # The master side raw too: no echo, no newline translation, bytes as they are.
    tty.setraw(master)
    port = serial.Serial(name, 115200, bytesize=serial.EIGHTBITS, parity=serial.PARITY_NONE,
                         stopbits=serial.STOPBITS_ONE, timeout=5)
    try:
        attrs = termios.tcgetattr(port.fd)
        if attrs[4] != termios.B115200 or attrs[2] & termios.CSIZE != termios.CS8 or attrs[2] & (termios.PARENB | termios.CSTOPB):
            print(f"FAIL serial: {name} is not set to 115200 8N1: {attrs[:6]}")
            return 1
        request = b"AT+PING\r\n\x00\xff"
        os.write(master, request)
        got = port.read(len(request))
        if got != request:
            print(f"FAIL serial: pyserial read {got!r}, not {request!r}")
            return 1
        reply = b"OK\r\n\x7f\x80"
        port.write(reply)
        port.flush()
        back = read_master(master, len(reply))
        if back != reply:
            print(f"FAIL serial: the master read {back!r}, not {reply!r}")
            return 1
    finally:
        port.close()
        os.close(slave)
        os.close(master)
    print(f"ok serial: pyserial {importlib.metadata.version('pyserial')} on {name} at 115200 8N1: "
          f"{len(request)} bytes in, {len(reply)} bytes out")
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
