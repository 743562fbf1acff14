#!/usr/bin/python3
"""An upstream that answers with the odd messages real servers and
spoofers send, for cordon's hardening tests.  UDP only.

Usage: hostile_upstream.py --port PORT --log FILE

Prints "ready PORT" once it listens.  Every query is logged to FILE as
"qname qtype flags" where flags is the hex of header bytes 2-3 as
received (so tests see RD, AD and CD) followed by "do" when the query's
OPT had DO set.  What it answers depends on keyword labels in the name:

  qptr      the answer's question name is the pointer C0 04 (into the
            header: it reads as the root name), the records follow
  trail     a correct answer followed by 7 stray bytes
  optmid    the upstream's OPT record stands first in the additional
            section, before an A record of ns.test.
  adflag    a correct answer with AD set
  glue      an A answer that fits in 512 octets, with 40 additional A
            records (glue) that push it past 512
  huge      40 A records in the answer section itself (over 512 octets)
  cdecho    TXT "cd=1" or "cd=0": what the query's CD bit was
  silent    never answered
  refused   REFUSED

Otherwise A 192.0.2.1 (TTL 300).  EDNS is echoed as version 0, payload
1232, DO copied.
"""

import argparse
import socket
import struct
import sys

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset


def keywords(qname):
    return {label.decode("ascii", "replace").lower()
            for label in qname.labels}


def base_response(query):
    resp = dns.message.make_response(query, recursion_available=True)
    if query.edns >= 0:
        resp.use_edns(0, query.ednsflags & dns.flags.DO, 1232)
    return resp


def a_rrset(name, addr="192.0.2.1"):
    return dns.rrset.from_text(name, 300, "IN", "A", addr)


def answer(wire):
    try:
        query = dns.message.from_wire(wire)
    except Exception:
        return None, None
    if query.flags & dns.flags.QR or len(query.question) != 1:
        return None, None
    q = query.question[0]
    kw = keywords(q.name)
    do = bool(query.edns >= 0 and query.ednsflags & dns.flags.DO)
    logline = "%s %s %04x%s" % (q.name.to_text().lower(),
                                dns.rdatatype.to_text(q.rdtype),
                                struct.unpack("!H", wire[2:4])[0],
                                " do" if do else "")
    resp = base_response(query)
    if "silent" in kw:
        return logline, None
    if "refused" in kw:
        resp.set_rcode(dns.rcode.REFUSED)
        return logline, resp.to_wire()
    if "cdecho" in kw:
        cd = "1" if wire[3] & 0x10 else "0"
        resp.answer.append(dns.rrset.from_text(q.name, 300, "IN", "TXT",
                                               '"cd=%s"' % cd))
        return logline, resp.to_wire()
    if "huge" in kw:
        resp.answer.append(dns.rrset.from_text_list(
            q.name, 300, "IN", "A", ["192.0.2.%d" % i for i in range(1, 41)]))
        return logline, resp.to_wire()
    resp.answer.append(a_rrset(q.name))
    if "glue" in kw:
        for i in range(40):
            resp.additional.append(a_rrset(
                dns.name.from_text("ns%d.glue.test." % i), "198.51.100.%d" % i))
    if "adflag" in kw:
        resp.flags |= dns.flags.AD
    out = resp.to_wire()
    if "qptr" in kw:
        # Header, then the question name replaced by a pointer to
        # offset 4 (the counts: 00 01 reads as... a root name at 4 is
        # byte 0x00), then the rest as rendered.  The question must be
        # rendered without compression for the slice to be right.
        qlen = len(q.name.to_wire())
        out = out[:12] + b"\xc0\x04" + out[12 + qlen:]
    if "trail" in kw:
        out += b"\x01\x02\x03\x04\x05\x06\x07"
    if "optmid" in kw and query.edns >= 0:
        # Written by hand: header, question, A, then OPT, then an A of
        # ns.test. written out (no compression) after the OPT.
        qwire = q.name.to_wire() + struct.pack("!HH", q.rdtype, q.rdclass)
        hdr = wire[:2] + struct.pack("!HHHHH", 0x8180, 1, 1, 0, 2)
        ans = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + \
            bytes([192, 0, 2, 1])
        opt = b"\x00" + struct.pack("!HHIH", 41, 1232,
                                    0x8000 if do else 0, 0)
        glue = dns.name.from_text("ns.test.").to_wire() + \
            struct.pack("!HHIH", 1, 1, 300, 4) + bytes([198, 51, 100, 1])
        out = hdr + qwire + ans + opt + glue
    return logline, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--address", default="127.0.0.1")
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((args.address, args.port))
    log = open(args.log, "a", buffering=1)
    print("ready %d" % sock.getsockname()[1], flush=True)
    while True:
        wire, peer = sock.recvfrom(65535)
        logline, out = answer(wire)
        if logline is not None:
            log.write(logline + "\n")
            log.flush()
        if out is not None:
            sock.sendto(out, peer)


if __name__ == "__main__":
    sys.exit(main())
