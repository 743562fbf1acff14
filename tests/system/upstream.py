#!/usr/bin/python3
"""Stub upstream DNS server for cordon's system tests.

Usage: upstream.py --port PORT [--address 127.0.0.1|::1] --log FILE

Serves UDP and TCP on one port and prints "ready PORT" on stdout once both
sockets listen (with --port 0 it picks a free port and the line tells
which).  Every query it can parse is appended to FILE as one line
"qname qtype proto" (qname lower-cased with its final dot, e.g.
"www.example.test. A udp"), flushed at once, so tests can count what
reached it.  It runs until killed (SIGTERM).

It answers every name as if it were authoritative; what it answers depends
on keyword labels anywhere in the name (so tests can make unique names
such as "x7.nx.test." that still behave as "nx"):

  nx        NXDOMAIN, SOA in authority
  nodata    NOERROR, empty answer, SOA in authority
  fail      SERVFAIL
  drop      never answered (UDP or TCP)
  slow      answered after 300 ms (other queries are served meanwhile)
  cname     CNAME to target.test., then target.test.'s A/AAAA
  big       TXT: 12 records of 240 octets (~3100 octets of answer)
  mid       TXT: one record of two strings (~400 octets of answer)
  ttlN      the TTL of answer records is N (default 300), and of the SOA
            in negative answers (default 60)
  ednsjunk  the answer's OPT (when the query had one) carries an unknown
            option (65002) and an unassigned flag bit (0x4000)
  garble    the answer is cut after its question: the header still counts
            the records that are missing (a malformed answer)
  spoof     over UDP, first two forged answers with A 6.6.6.6 (one with
            the ID plus one, one with the right ID but the question
            spoofed.test.), then the real answer 100 ms later
  a-W-X-Y-Z        the A answer is W.X.Y.Z instead of 192.0.2.1
  aaaa-G-G-..-G    the AAAA answer is the label after "aaaa-" with each
                   "-" read as ":" (aaaa-2001-db8-bad--7 is 2001:db8:bad::7)

Otherwise A -> 192.0.2.1, AAAA -> 2001:db8::1, TXT -> "stub", MX -> 10
mx.test.; other types get NODATA.  The SOA is owned by "test." for names
under test. and by the root for other names, with TTL 60 and minimum 30:
  ZONE 60 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 30

EDNS: a query with OPT gets an answer with OPT (version 0, payload 1232,
the DO bit echoed, no options and no other flag bits); an EDNS version
other than 0 gets BADVERS.  Over UDP an answer larger than the client's
payload size (512 without EDNS, never less than 512) is replaced by an
answer with TC set and empty answer/authority/additional sections (the
question and the OPT record stay).  Over TCP answers are never cut.
Packets that are not parseable queries are ignored.
"""

import argparse
import re
import socket
import socketserver
import struct
import sys
import threading
import time

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

SLOW_DELAY = 0.3
DEFAULT_TTL = 300
SOA_TTL = 60
SOA_TEXT = "ns.test. hostmaster.test. 1 3600 600 86400 30"
OUR_PAYLOAD = 1232
TEST_ZONE = dns.name.from_text("test.")
TARGET = dns.name.from_text("target.test.")
TCP_IDLE = 30.0

KEYWORDS = ("nx", "nodata", "fail", "drop", "slow", "cname", "big", "mid",
            "ednsjunk", "spoof", "garble")
SPOOF_DELAY = 0.1
JUNK_OPTION = 65002
JUNK_FLAG = 0x4000
TTL_LABEL = re.compile(r"^ttl(\d+)$")
A_LABEL = re.compile(r"^a-(\d+)-(\d+)-(\d+)-(\d+)$")
AAAA_LABEL = re.compile(r"^aaaa-([0-9a-f-]+)$")


class QueryLog:
    """Appends one line per query to a file, flushed immediately."""

    def __init__(self, path):
        self.lock = threading.Lock()
        self.f = open(path, "a", encoding="ascii", buffering=1)

    def write(self, qname, qtype, proto):
        line = "%s %s %s\n" % (qname.to_text().lower(),
                               dns.rdatatype.to_text(qtype), proto)
        with self.lock:
            self.f.write(line)
            self.f.flush()


def keywords_of(qname):
    """Returns (set of keyword labels, ttl label value or None)."""
    found = set()
    ttl = None
    for label in qname.labels:
        text = label.decode("ascii", "replace").lower()
        if text in KEYWORDS:
            found.add(text)
        m = TTL_LABEL.match(text)
        if m:
            ttl = int(m.group(1))
    return found, ttl


def soa_rrset(qname, ttl=None):
    zone = TEST_ZONE if qname.is_subdomain(TEST_ZONE) else dns.name.root
    return dns.rrset.from_text(zone, SOA_TTL if ttl is None else ttl,
                               "IN", "SOA", SOA_TEXT)


def addresses_of(qname):
    """(IPv4, IPv6) answer addresses for a query name."""
    v4, v6 = "192.0.2.1", "2001:db8::1"
    for label in qname.labels:
        text = label.decode("ascii", "replace").lower()
        m = A_LABEL.match(text)
        if m:
            v4 = ".".join(m.groups())
        m = AAAA_LABEL.match(text)
        if m:
            v6 = m.group(1).replace("-", ":")
    return v4, v6


def address_rrset(qname, owner, qtype, ttl):
    v4, v6 = addresses_of(qname)
    if qtype == dns.rdatatype.A:
        return dns.rrset.from_text(owner, ttl, "IN", "A", v4)
    return dns.rrset.from_text(owner, ttl, "IN", "AAAA", v6)


def txt_rrset(owner, kw, ttl):
    if "big" in kw:
        texts = ['"big-%02d-%s"' % (i, "x" * 232) for i in range(12)]
    elif "mid" in kw:
        texts = ['"%s" "%s"' % ("m" * 180, "n" * 180)]
    else:
        texts = ['"stub"']
    return dns.rrset.from_text_list(owner, ttl, "IN", "TXT", texts)


def make_response(query):
    """Returns the response Message for a query, or None to stay silent."""
    qname = query.question[0].name
    qtype = query.question[0].rdtype
    kw, ttl_label = keywords_of(qname)
    ttl = DEFAULT_TTL if ttl_label is None else ttl_label
    resp = dns.message.make_response(query, recursion_available=True,
                                     our_payload=OUR_PAYLOAD)
    resp.flags |= dns.flags.AA
    if query.edns >= 0:
        if query.edns != 0:
            resp.use_edns(0, 0, OUR_PAYLOAD)
            resp.set_rcode(dns.rcode.BADVERS)
            return resp
        flags = query.ednsflags & dns.flags.DO
        options = []
        if "ednsjunk" in kw:
            flags |= JUNK_FLAG
            options = [dns.edns.GenericOption(JUNK_OPTION, b"junk")]
        resp.use_edns(0, flags, OUR_PAYLOAD, options=options)
    if "drop" in kw:
        return None
    if "fail" in kw:
        resp.flags &= ~dns.flags.AA
        resp.set_rcode(dns.rcode.SERVFAIL)
        return resp
    if "nx" in kw:
        resp.set_rcode(dns.rcode.NXDOMAIN)
        resp.authority.append(soa_rrset(qname, ttl_label))
        return resp
    if "nodata" in kw:
        resp.authority.append(soa_rrset(qname, ttl_label))
        return resp
    owner = qname
    if "cname" in kw and qtype != dns.rdatatype.CNAME:
        resp.answer.append(dns.rrset.from_text(qname, ttl, "IN", "CNAME",
                                               TARGET.to_text()))
        owner = TARGET
    if qtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
        resp.answer.append(address_rrset(qname, owner, qtype, ttl))
    elif qtype == dns.rdatatype.TXT:
        resp.answer.append(txt_rrset(owner, kw, ttl))
    elif qtype == dns.rdatatype.MX:
        resp.answer.append(dns.rrset.from_text(owner, ttl, "IN", "MX",
                                               "10 mx.test."))
    elif qtype == dns.rdatatype.CNAME and "cname" in kw:
        resp.answer.append(dns.rrset.from_text(qname, ttl, "IN", "CNAME",
                                               TARGET.to_text()))
    elif not resp.answer:
        resp.authority.append(soa_rrset(qname, ttl_label))
    return resp


def answer_wire(query, resp, limit):
    """Renders resp; when limit is set and it does not fit, a TC answer."""
    wire = resp.to_wire(max_size=65535)
    if limit is None or len(wire) <= limit:
        return wire
    resp.answer = []
    resp.authority = []
    resp.additional = []
    resp.flags |= dns.flags.TC
    return resp.to_wire(max_size=65535)


def parse_query(wire):
    try:
        query = dns.message.from_wire(wire)
    except Exception:
        return None
    if query.flags & dns.flags.QR or len(query.question) != 1:
        return None
    if query.opcode() != dns.opcode.QUERY:
        return None
    return query


def handle(wire, proto, log):
    """Returns the wire answer for wire, or None.  Sleeps for slow names."""
    query = parse_query(wire)
    if query is None:
        return None
    q = query.question[0]
    log.write(q.name, q.rdtype, proto)
    resp = make_response(query)
    if resp is None:
        return None
    if "slow" in keywords_of(q.name)[0]:
        time.sleep(SLOW_DELAY)
    limit = None
    if proto == "udp":
        limit = 512
        if query.edns >= 0:
            limit = max(512, query.payload)
    out = answer_wire(query, resp, limit)
    if "garble" in keywords_of(q.name)[0]:
        out = out[:len(wire) - (11 if query.edns >= 0 else 0)]
    return out


def forged_answers(wire):
    """Two forged answers to a query: wrong ID; right ID, wrong question."""
    query = parse_query(wire)
    qname = query.question[0].name
    out = []
    for qid, name in ((query.id ^ 1, qname),
                      (query.id, dns.name.from_text("spoofed.test."))):
        fake = dns.message.make_query(name, "A")
        fake.id = qid
        fake.flags = dns.flags.QR | dns.flags.RD | dns.flags.RA
        fake.answer.append(dns.rrset.from_text(name, 300, "IN", "A",
                                               "6.6.6.6"))
        out.append(fake.to_wire())
    return out


class UDPHandler(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        out = handle(data, "udp", self.server.querylog)
        if out is None:
            return
        if "spoof" in keywords_of(parse_query(data).question[0].name)[0]:
            for fake in forged_answers(data):
                sock.sendto(fake, self.client_address)
            time.sleep(SPOOF_DELAY)
        sock.sendto(out, self.client_address)


class TCPHandler(socketserver.BaseRequestHandler):
    """Reads length-prefixed queries; each is answered in its own thread
    so pipelined and slow queries overlap."""

    def handle(self):
        sock = self.request
        sock.settimeout(TCP_IDLE)
        wlock = threading.Lock()
        while True:
            head = self.read_exactly(sock, 2)
            if head is None:
                return
            (length,) = struct.unpack("!H", head)
            body = self.read_exactly(sock, length)
            if body is None:
                return
            threading.Thread(target=self.answer, daemon=True,
                             args=(sock, wlock, body)).start()

    def answer(self, sock, wlock, body):
        out = handle(body, "tcp", self.server.querylog)
        if out is None:
            return
        with wlock:
            try:
                sock.sendall(struct.pack("!H", len(out)) + out)
            except OSError:
                pass

    @staticmethod
    def read_exactly(sock, n):
        buf = b""
        while len(buf) < n:
            try:
                chunk = sock.recv(n - len(buf))
            except OSError:
                return None
            if not chunk:
                return None
            buf += chunk
        return buf


def make_servers(address, port, querylog):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET

    class UDPServer(socketserver.ThreadingUDPServer):
        address_family = family
        daemon_threads = True
        max_packet_size = 65535

    class TCPServer(socketserver.ThreadingTCPServer):
        address_family = family
        daemon_threads = True
        allow_reuse_address = True

    for _ in range(20):
        udp = UDPServer((address, port), UDPHandler)
        chosen = udp.server_address[1]
        try:
            tcp = TCPServer((address, chosen), TCPHandler)
        except OSError:
            udp.server_close()
            if port != 0:
                raise
            continue
        udp.querylog = tcp.querylog = querylog
        return udp, tcp, chosen
    raise OSError("no port free for both UDP and TCP")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--address", default="127.0.0.1")
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    querylog = QueryLog(args.log)
    udp, tcp, port = make_servers(args.address, args.port, querylog)
    for server in (udp, tcp):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print("ready %d" % port, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
