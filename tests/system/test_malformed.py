"""Malformed queries: FORMERR when the header can be read, otherwise
dropped; nothing a client sends may crash or stall the daemon (PRODUCT.md,
"Answers")."""

import random
import socket
import struct
import time

import dns.flags
import pytest

from helpers import (assert_blocked_nxdomain, assert_forwarded_a,
                     make_query, tcp_connect, tcp_frame, tcp_recv_msg)

QNAME = b"\x03www\x07example\x04test\x00"
QTAIL = struct.pack("!HH", 1, 1)                  # A IN
OPT = b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)


def header(qid, qd=1, an=0, ns=0, ar=0, flags=0x0100):
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


# name -> wire; each has a readable header with QR=0, so each must get
# FORMERR with its ID.
CRAFTED = {
    "qdcount_0": header(0x0A01, qd=0),
    "qdcount_0_with_question": header(0x0A02, qd=0) + QNAME + QTAIL,
    "qdcount_2": header(0x0A03, qd=2) + QNAME + QTAIL + QNAME + QTAIL,
    "pointer_to_itself": header(0x0A04) + b"\xc0\x0c" + QTAIL,
    "pointer_loop": header(0x0A05) + b"\x03www\xc0\x0c" + QTAIL,
    "label_64": header(0x0A07) + b"\x40" + b"a" * 64 + b"\x00" + QTAIL,
    "label_type_10": header(0x0A08) + b"\x83www\x00" + QTAIL,
    "name_over_255": header(0x0A09) + (b"\x3f" + b"a" * 63) * 5 + b"\x00"
    + QTAIL,
    "name_unterminated": header(0x0A0A) + b"\x03www\x07example",
    "question_without_class": header(0x0A0B) + QNAME + b"\x00\x01",
    "question_without_type": header(0x0A0C) + QNAME,
    "label_past_end": header(0x0A0D) + b"\x3fabc",
    "two_opt_records": header(0x0A0E, ar=2) + QNAME + QTAIL + OPT + OPT,
    "arcount_without_records": header(0x0A0F, ar=1) + QNAME + QTAIL,
    "opt_truncated": header(0x0A10, ar=1) + QNAME + QTAIL + OPT[:7],
    "opt_rdlen_past_end": header(0x0A11, ar=1) + QNAME + QTAIL
    + b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 40) + b"\x00" * 4,
}


def collect(sock, seconds, expect=None):
    """Every datagram arriving on sock within seconds; once expect have
    come, waits only 0.2 s more for extra ones."""
    out = []
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return out
        sock.settimeout(left)
        try:
            out.append(sock.recv(65535))
        except socket.timeout:
            return out
        if expect is not None and len(out) >= expect:
            deadline = min(deadline, time.monotonic() + 0.2)


def assert_formerr(data, wire, what):
    assert data is not None, "%s: no answer" % what
    assert data[0:2] == wire[0:2], "%s: ID not copied" % what
    flags = struct.unpack("!H", data[2:4])[0]
    assert flags & dns.flags.QR, what
    assert flags & 0xF == 1, "%s: rcode %d, want FORMERR" % (what,
                                                             flags & 0xF)


def assert_healthy(d):
    assert d.alive(), "cordond died:\n" + d.output()
    assert_forwarded_a(d.udp("healthy.test", "A"), "healthy.test")
    assert_blocked_nxdomain(d.udp("www.binance.com", "A"), "binance.com")
    assert_forwarded_a(d.tcp("healthy-tcp.test", "A"), "healthy-tcp.test")


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_crafted_malformed_query_gets_formerr(cordond, case):
    wire = CRAFTED[case]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(wire, ("127.0.0.1", cordond.port))
        got = collect(s, 1.0, expect=1)
    assert len(got) == 1, "%s: %d answers" % (case, len(got))
    assert_formerr(got[0], wire, case)
    assert cordond.alive()


def test_crafted_malformed_queries_over_tcp_get_formerr(cordond):
    for case in sorted(CRAFTED):
        wire = CRAFTED[case]
        sock = tcp_connect(cordond.port)
        try:
            sock.sendall(tcp_frame(wire))
            assert_formerr(tcp_recv_msg(sock, 2.0), wire, case)
        finally:
            sock.close()
    assert_healthy(cordond)


def test_short_packets_dropped(cordond):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for n in range(12):
            s.sendto(bytes([0x42]) * n, ("127.0.0.1", cordond.port))
        got = collect(s, 1.0)
    assert got == [], "answers to packets shorter than a header"
    assert_healthy(cordond)


def test_responses_sent_to_the_daemon_are_not_answered(cordond):
    resp = make_query("reflect.test", "A")
    resp.flags |= dns.flags.QR
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(resp.to_wire(), ("127.0.0.1", cordond.port))
        s.sendto(header(0x0B01, qd=0, flags=0x8100), (
            "127.0.0.1", cordond.port))
        got = collect(s, 1.0)
    assert got == []
    assert_healthy(cordond)


def test_random_packets_do_not_crash_or_stall(cordond):
    rng = random.Random(20261123)
    packets = []
    for i in range(300):
        packets.append(bytes(rng.randrange(256)
                             for _ in range(rng.randrange(12, 120))))
    for i in range(200):
        # readable header, QR=0, opcode QUERY, QDCOUNT=1: parsing goes on
        # into the random question and records
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300)))
        packets.append(header(rng.randrange(65536), ar=rng.randrange(3))
                       + body)
    query_ids = {struct.unpack("!H", p[:2])[0] for p in packets
                 if not p[2] & 0x80}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for i, p in enumerate(packets):
            s.sendto(p, ("127.0.0.1", cordond.port))
            if i % 50 == 49:
                time.sleep(0.01)
        got = collect(s, 1.5)
    for data in got:
        assert len(data) >= 12
        assert data[2] & 0x80, "answer without QR"
        assert struct.unpack("!H", data[:2])[0] in query_ids
    assert_healthy(cordond)


def test_tcp_garbage_and_half_messages(cordond):
    port = cordond.port
    abuse = [
        b"\xff\xff" + b"\x00" * 10,            # long length, then close
        b"\x00\x00",                           # zero length
        b"\x00",                               # half a length prefix
        b"\x00\x1e" + b"\x12\x34" * 5,         # half a message, then close
        tcp_frame(b"\x01\x02\x03\x04\x05"),    # shorter than a header
        tcp_frame(bytes(range(200))),          # random-ish message
    ]
    for data in abuse:
        sock = tcp_connect(port)
        try:
            sock.sendall(data)
            time.sleep(0.05)
        except OSError:
            pass
        finally:
            sock.close()
    # a connection that sent half a message does not stall others
    stuck = tcp_connect(port)
    try:
        stuck.sendall(b"\x00\x40" + b"\x00" * 20)
        start = time.monotonic()
        assert_healthy(cordond)
        assert time.monotonic() - start < 2.0
    finally:
        stuck.close()
    assert_healthy(cordond)
