"""Client-side helpers for cordon's system tests: raw DNS over UDP and TCP,
EDNS/EDE inspection, the audit log reader and the default test lists.
Fixtures live in conftest.py; this module starts no process."""

import hashlib
import json
import socket
import struct
import time
import urllib.request

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rdatatype
import dns.rcode

TIMEOUT = 2.0
GENESIS = "0" * 64
EDE = 15                # EDNS option code of Extended DNS Errors (RFC 8914)
EDE_BLOCKED = 15        # info-code "Blocked"
AUDIT_KEYS = ["seq", "ts", "client", "port", "proto", "qname", "qtype",
              "action", "trigger", "rule", "list", "category", "answer_ip",
              "policy", "prev"]


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def make_query(qname, rdtype="A", *, edns=None, payload=1232, do=False,
               rd=True, options=None, qid=None):
    """A query Message.  edns=None sends no OPT, else the EDNS version."""
    q = dns.message.make_query(qname, rdtype)
    if qid is not None:
        q.id = qid
    if not rd:
        q.flags &= ~dns.flags.RD
    if edns is not None:
        q.use_edns(edns, dns.flags.DO if do else 0, payload,
                   options=options or [])
    return q


def udp_raw(port, wire, addr="127.0.0.1", timeout=TIMEOUT, sock=None):
    """Sends wire to addr:port and returns the first datagram from there,
    or None when nothing came within timeout."""
    own = sock is None
    if own:
        sock = socket.socket(family_of(addr), socket.SOCK_DGRAM)
    try:
        sock.sendto(wire, (addr, port))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            sock.settimeout(left)
            try:
                data, frm = sock.recvfrom(65535)
            except socket.timeout:
                return None
            if frm[1] == port:
                return data
    finally:
        if own:
            sock.close()


def udp_query(port, query, addr="127.0.0.1", timeout=TIMEOUT):
    """Sends a Message (or wire) over UDP; returns the parsed answer.
    Fails the test when no answer comes or its ID differs."""
    wire = query if isinstance(query, bytes) else query.to_wire()
    data = udp_raw(port, wire, addr, timeout)
    assert data is not None, "no UDP answer within %.1fs" % timeout
    resp = dns.message.from_wire(data)
    assert resp.id == struct.unpack("!H", wire[:2])[0], "answer ID differs"
    return resp


def tcp_connect(port, addr="127.0.0.1", timeout=TIMEOUT):
    sock = socket.create_connection((addr, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def tcp_frame(wire):
    return struct.pack("!H", len(wire)) + wire


def recv_exactly(sock, n, deadline):
    """Reads n bytes; returns fewer (possibly b"") when the peer closed or
    the deadline passed."""
    buf = b""
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            chunk = sock.recv(n - len(buf))
        except socket.timeout:
            break
        except ConnectionResetError:
            break
        if not chunk:
            break
        buf += chunk
    return buf


def tcp_recv_msg(sock, timeout=TIMEOUT):
    """Reads one length-prefixed message; None on close or timeout."""
    deadline = time.monotonic() + timeout
    head = recv_exactly(sock, 2, deadline)
    if len(head) < 2:
        return None
    (length,) = struct.unpack("!H", head)
    body = recv_exactly(sock, length, deadline)
    if len(body) < length:
        return None
    return body


def tcp_query(port, query, addr="127.0.0.1", timeout=TIMEOUT, sock=None):
    """Sends a Message (or wire) over TCP; returns the parsed answer."""
    wire = query if isinstance(query, bytes) else query.to_wire()
    own = sock is None
    if own:
        sock = tcp_connect(port, addr, timeout)
    try:
        sock.sendall(tcp_frame(wire))
        data = tcp_recv_msg(sock, timeout)
    finally:
        if own:
            sock.close()
    assert data is not None, "no TCP answer within %.1fs" % timeout
    resp = dns.message.from_wire(data)
    assert resp.id == struct.unpack("!H", wire[:2])[0], "answer ID differs"
    return resp


def question_bytes(wire):
    """The question section (QDCOUNT=1) of a wire message, as bytes."""
    pos = 12
    while wire[pos] != 0:
        assert wire[pos] < 64, "compressed name in question"
        pos += wire[pos] + 1
    return wire[12:pos + 5]


def ede_list(resp):
    """[(info_code, text)] of the EDE options of a parsed answer."""
    out = []
    for opt in resp.options:
        if opt.otype == EDE:
            out.append((opt.code, opt.text or ""))
    return out


def rrsets_of(section):
    """Comparable form of a section: {(name, type): sorted rdata texts}."""
    return {(str(r.name).lower(), dns.rdatatype.to_text(r.rdtype)):
            sorted(rd.to_text() for rd in r) for r in section}


def soa_of(resp):
    soas = [r for r in resp.authority if r.rdtype == dns.rdatatype.SOA]
    assert len(soas) == 1, "expected one SOA in authority, got %r" % (
        resp.authority,)
    return soas[0]


def rcode_text(resp):
    return dns.rcode.to_text(resp.rcode())


def assert_blocked_nxdomain(resp, rule):
    assert rcode_text(resp) == "NXDOMAIN", resp
    assert not resp.answer
    assert soa_of(resp).name == dns.name.from_text(rule)


def assert_forwarded_a(resp, qname):
    assert rcode_text(resp) == "NOERROR", resp
    assert rrsets_of(resp.answer) == {
        (qname.lower().rstrip(".") + ".", "A"): ["192.0.2.1"]}, resp


def read_lines(path, count, timeout=2.0):
    """Waits up to timeout for path to hold at least count complete lines;
    returns every complete line (without newline) read at that moment."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            data = b""
        lines = data.split(b"\n")[:-1]
        if len(lines) >= count or time.monotonic() >= deadline:
            return [ln.decode("utf-8") for ln in lines]
        time.sleep(0.02)


def parse_lines(lines):
    """Parses JSON lines, keeping member order."""
    return [json.loads(ln, object_pairs_hook=lambda kv: kv) for ln in lines]


def as_dict(pairs):
    return dict(pairs)


def block_records(lines):
    """The blocked-attempt records (as dicts) among audit lines."""
    out = []
    for pairs in parse_lines(lines):
        d = dict(pairs)
        if "event" not in d:
            out.append(d)
    return out


def wait_blocks(path, n, timeout=2.0):
    """Waits until path holds n blocked-attempt lines; returns every line
    and the records."""
    deadline = time.monotonic() + timeout
    while True:
        lines = read_lines(path, 0, 0)
        blocks = block_records(lines)
        if len(blocks) >= n or time.monotonic() >= deadline:
            return lines, blocks
        time.sleep(0.02)


def verify_chain(lines):
    """Asserts seq counts up by one and prev chains every line to the one
    before, the first line to 64 zeros."""
    prev = GENESIS
    seq = None
    for i, line in enumerate(lines):
        d = json.loads(line)
        assert d.get("prev") == prev, "line %d: prev %r, want %r" % (
            i + 1, d.get("prev"), prev)
        assert isinstance(d.get("seq"), int), "line %d: no seq" % (i + 1)
        if seq is not None:
            assert d["seq"] == seq + 1, "line %d: seq %r after %r" % (
                i + 1, d["seq"], seq)
        seq = d["seq"]
        prev = hashlib.sha256(line.encode("utf-8")).hexdigest()


# The default lists written by conftest.write_lists(): name -> (list,
# category).  Tests refer to these names.
EXCHANGES = """\
# offshore exchanges
binance.com
MiXeD.CaSe.Example
trailing.example.
deep.parent.test
b\u00fccher.example
example.com
"""
ICO = "bad.safe.example.com\n"
ALLOW = "safe.example.com\n"
HOSTS = """\
# hosts format
0.0.0.0 hosts-one.example hosts-two.example
:: hosts-six.example
"""
ADBLOCK = """\
||ad-one.example^
@@||ok.ad-one.example^
"""
JSONFEED = ('{"domains": ["json-one.example", "json-two.example"], '
            '"other": ["json-not.example"]}\n')

MANIFEST = """\
[source exchanges]
file = exchanges.domains
format = domains
category = exchange
kind = block

[source ico]
file = ico.domains
format = domains
category = ico
kind = block

[source allowlist]
file = allow.domains
format = domains
category = allowed
kind = allow

[source hostsfile]
file = hostsfile.hosts
format = hosts
category = ads
kind = block

[source adlist]
file = adblock.txt
format = adblock
category = ads
kind = block

[source jsonfeed]
file = feed.json
format = json:domains
category = otc
kind = block
"""

LIST_FILES = {
    "exchanges.domains": EXCHANGES,
    "ico.domains": ICO,
    "allow.domains": ALLOW,
    "hostsfile.hosts": HOSTS,
    "adblock.txt": ADBLOCK,
    "feed.json": JSONFEED,
    "sources.ini": MANIFEST,
}

# Address lists for answer checks (added to the manifest only by the tests
# that need them).
BADNETS = """\
# ranges answers must not point into
198.51.100.0/24
203.0.113.5
203.0.113.10-203.0.113.20
2001:db8:bad::/48
"""
GOODNETS = "198.51.100.200/29\n"
CIDR_MANIFEST = MANIFEST + """
[source badnets]
file = badnets.cidr
format = cidr
category = offshore-hosting
kind = block

[source goodnets]
file = goodnets.cidr
format = cidr
category = allowed
kind = allow
"""
CIDR_FILES = {"badnets.cidr": BADNETS, "goodnets.cidr": GOODNETS,
              "sources.ini": CIDR_MANIFEST}


def metrics(port):
    """{series: value} of cordond's GET /metrics on 127.0.0.1:port."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                timeout=3) as r:
        assert r.status == 200
        text = r.read().decode()
    out = {}
    for ln in text.splitlines():
        if ln and not ln.startswith("#"):
            name, _, value = ln.rpartition(" ")
            out[name] = float(value)
    return out


def metrics_until(port, want, timeout=5.0):
    """Polls /metrics until every series in want ({series: value}) has
    that value (workers publish their counters once a second); returns
    the last reading."""
    deadline = time.monotonic() + timeout
    while True:
        m = metrics(port)
        if all(m.get(k) == v for k, v in want.items()) or (
                time.monotonic() >= deadline):
            return m
        time.sleep(0.1)
