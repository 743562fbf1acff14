#!/usr/bin/python3
"""A tiny UDP upstream whose answers depend on the CD bit of the query
(for test_dnssec.py's cache-key tests).

Usage: cdstub.py --port PORT --log FILE

Every A query gets NOERROR with A 192.0.2.200 when CD was clear and
A 192.0.2.201 when CD was set (TTL 300); the answer copies CD and RD, sets
RA and echoes OPT (version 0, DO copied).  Other types get NODATA.  Each
query is logged as one line "qname qtype cd=0|1", flushed at once.
Prints "ready PORT" once listening; runs until SIGTERM.
"""

import argparse
import socket
import sys

import dns.flags
import dns.message
import dns.rdatatype
import dns.rrset

ANSWER = {False: "192.0.2.200", True: "192.0.2.201"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", args.port))
    log = open(args.log, "a", buffering=1)
    print("ready %d" % sock.getsockname()[1], flush=True)
    while True:
        data, peer = sock.recvfrom(65535)
        try:
            q = dns.message.from_wire(data)
        except Exception:
            continue
        if q.flags & dns.flags.QR or len(q.question) != 1:
            continue
        cd = bool(q.flags & dns.flags.CD)
        qq = q.question[0]
        log.write("%s %s cd=%d\n" % (qq.name.to_text().lower(),
                                     dns.rdatatype.to_text(qq.rdtype),
                                     int(cd)))
        log.flush()
        r = dns.message.make_response(q, recursion_available=True)
        if q.edns >= 0:
            r.use_edns(0, q.ednsflags & dns.flags.DO, 1232)
        if cd:
            r.flags |= dns.flags.CD
        if qq.rdtype == dns.rdatatype.A:
            r.answer.append(dns.rrset.from_text(qq.name, 300, "IN", "A",
                                                ANSWER[cd]))
        sock.sendto(r.to_wire(), peer)


if __name__ == "__main__":
    sys.exit(main())
