#!/usr/bin/python3
"""An upstream that answers every UDP query with TC set (an empty
answer) and resets every TCP connection it accepts, as a server that
wants TCP and then refuses it.  For cordon's retry-storm tests.

Usage: refusing_upstream.py --port PORT --log FILE [--no-tcp]

Prints "ready PORT" once it listens.  Each UDP query is logged to FILE as
"udp QNAME", each accepted TCP connection as "tcp".  With --no-tcp there
is no TCP listener at all, so the kernel answers SYNs with RST.
"""

import argparse
import select
import socket
import struct
import sys


def truncated(wire):
    """The query turned into an empty answer with QR, RA and TC set, or
    None when it is not a query."""
    if len(wire) < 12 or wire[2] & 0x80:
        return None, None
    flags = struct.unpack("!H", wire[2:4])[0]
    flags |= 0x8000 | 0x0200 | 0x0080        # QR, TC, RA
    # the question is kept, nothing else (OPT dropped)
    end = 12
    while end < len(wire) and wire[end] != 0:
        if wire[end] & 0xC0:
            return None, None
        end += 1 + wire[end]
    end += 5
    if end > len(wire):
        return None, None
    name = []
    i = 12
    while wire[i] != 0:
        name.append(wire[i + 1:i + 1 + wire[i]].decode("ascii", "replace"))
        i += 1 + wire[i]
    head = wire[0:2] + struct.pack("!HHHHH", flags, 1, 0, 0, 0)
    return ".".join(name).lower() + ".", head + wire[12:end]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--no-tcp", action="store_true")
    args = ap.parse_args()
    log = open(args.log, "a", buffering=1)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", args.port))
    socks = [u]
    t = None
    if not args.no_tcp:
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        t.bind(("127.0.0.1", args.port))
        t.listen(128)
        socks.append(t)
    print("ready %d" % args.port, flush=True)
    while True:
        r, _, _ = select.select(socks, [], [])
        if u in r:
            wire, peer = u.recvfrom(65535)
            name, out = truncated(wire)
            if out is not None:
                log.write("udp %s\n" % name)
                u.sendto(out, peer)
        if t is not None and t in r:
            c, _ = t.accept()
            log.write("tcp\n")
            # linger 0: close() sends RST instead of FIN
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))
            c.close()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
