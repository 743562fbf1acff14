#!/usr/bin/python3
"""Writes the seed inputs of tests/fuzz/ into DIR/NAME/ (one folder per
harness), from small messages and files made here and, with --packets,
from CZ-NIC's DNS message collection (../shared/dns-fuzzing: client
queries for fuzz_query, answers with their question taken out for
fuzz_answer).  The committed corpus/ is this output minimised with
libFuzzer's -merge=1 (tests/fuzz/run --merge does that).

  tests/fuzz/seeds.py DIR [--packets PACKET_DIR]
"""

import argparse
import gzip
import hashlib
import os
import struct
import sys

import dns.edns
import dns.flags
import dns.message
import dns.opcode
import dns.rrset

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "system"))
import auditgen  # noqa: E402


def put(root, harness, data):
    d = os.path.join(root, harness)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def queries():
    out = []
    for name, t in (("www.binance.com", "A"), ("ok.example.com", "AAAA"),
                    ("www.fuzz.test", "TXT"), ("x.example.com", "MX"),
                    ("blocked.test", "HTTPS"), ("a.b.c.d.e.f", "ANY")):
        q = dns.message.make_query(name, t)
        out.append(q.to_wire())
        q = dns.message.make_query(name, t, use_edns=0, want_dnssec=True,
                                   payload=512)
        q.flags |= dns.flags.CD | dns.flags.AD
        out.append(q.to_wire())
    q = dns.message.make_query("ok.example.com", "A")
    q.flags &= ~dns.flags.RD
    out.append(q.to_wire())
    q = dns.message.make_query("example.com", "SOA")
    q.set_opcode(dns.opcode.NOTIFY)
    out.append(q.to_wire())
    q = dns.message.make_query("example.com", "A", use_edns=1)
    out.append(q.to_wire())
    q = dns.message.make_query("example.com", "A", use_edns=0, options=[
        dns.edns.GenericOption(10, b"\x01" * 8)])
    out.append(q.to_wire())
    out.append(b"\x12\x34\x01\x00\x00\x01")          # cut header
    return out


def answers():
    """Full answers to www.fuzz.test queries, question taken out."""
    out = []
    q = dns.message.make_query("www.fuzz.test", "A", use_edns=0)
    qlen = len(q.question[0].name.to_wire()) + 4

    def add(resp):
        w = resp.to_wire()
        out.append(bytes([0x20 | 0x40]) + w[:12] + w[12 + qlen:])

    r = dns.message.make_response(q)
    r.answer.append(dns.rrset.from_text("www.fuzz.test.", 300, "IN", "A",
                                        "198.51.100.7"))
    add(r)
    r = dns.message.make_response(q)
    r.answer.append(dns.rrset.from_text("www.fuzz.test.", 300, "IN",
                                        "CNAME", "x.binance.com."))
    r.answer.append(dns.rrset.from_text("x.binance.com.", 300, "IN", "A",
                                        "192.0.2.9"))
    add(r)
    r = dns.message.make_response(q)
    r.answer.append(dns.rrset.from_text("www.fuzz.test.", 300, "IN", "A",
                                        *["203.0.113.%d" % i
                                          for i in range(40)]))
    add(r)
    r = dns.message.make_response(q)
    r.set_rcode(3)
    r.authority.append(dns.rrset.from_text(
        "fuzz.test.", 60, "IN", "SOA", "ns.fuzz.test. h.fuzz.test. 1 2 3 4 5"))
    add(r)
    r = dns.message.make_response(q)
    r.answer.append(dns.rrset.from_text("www.fuzz.test.", 300, "IN",
                                        "AAAA", "2001:db8::1"))
    w = r.to_wire() + b"\x00" * 7                  # trailing bytes
    out.append(b"\x60" + w[:12] + w[12 + qlen:])
    return out


LISTS = [
    (0, b"# exchanges\nbinance.com\nEXAMPLE.org.\n*.wild.example\n"),
    (1, b"0.0.0.0 ads.example\n127.0.0.1 localhost\n::1 x.example # c\n"),
    (2, b"||ads.example^\n@@||ok.ads.example^\n! comment\n/regex/\n"),
    (3, b"$ORIGIN rpz.example.\n$TTL 60\n@ SOA ns h 1 2 3 4 5\n"
        b"bad.example CNAME .\n*.bad.example CNAME .\n"
        b"32.7.100.51.198.rpz-ip CNAME .\nok.example CNAME rpz-passthru.\n"),
    (4, b"192.0.2.0/24\n198.51.100.1-198.51.100.9\n2001:db8::/32\n10.0.0.1\n"),
    (5, b'{"names": ["a.example", "b.example", 3, "5.1.7.5\\ufeff"]}\n'),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--packets")
    a = ap.parse_args()
    for w in queries():
        for sel in (0, 1, 2):
            put(a.dir, "fuzz_query", bytes([sel]) + w)
    for w in answers():
        put(a.dir, "fuzz_answer", w)
    if a.packets:
        for f in sorted(os.listdir(a.packets)):
            w = open(os.path.join(a.packets, f), "rb").read()
            if len(w) < 12 or len(w) > 4096:
                continue
            if not w[2] & 0x80:
                put(a.dir, "fuzz_query", b"\x00" + w)
            else:
                # the answer's records after its first question
                try:
                    m = dns.message.from_wire(w)
                    qlen = len(m.question[0].name.to_wire()) + 4
                except Exception:
                    continue
                put(a.dir, "fuzz_answer", b"\x60" + w[:12] + w[12 + qlen:])
    for sel, text in LISTS:
        put(a.dir, "fuzz_lists", bytes([sel]) + text)
    put(a.dir, "fuzz_lists", b"\x00" + "b\u00fccher.example\n5.1.7.5\ufeff\n"
        "\uff11\uff19\uff12.\uff10.\uff12.\uff11\n".encode())
    manifest = open(os.path.join(HERE, "..", "..", "blocklists",
                                 "sources.ini"), "rb").read()
    put(a.dir, "fuzz_manifest", manifest)
    put(a.dir, "fuzz_manifest", b"[manifest]\nhome_country = CN\n\n"
        b"[source a]\nfile = a.domains\nformat = json:names\nkind = allow\n"
        b"reference = ORDER-1\nede = censored\noffshore = yes\n")
    conf = open(os.path.join(HERE, "..", "..", "conf", "cordon.conf"),
                "rb").read()
    put(a.dir, "fuzz_config", conf)
    put(a.dir, "fuzz_json", b'\x00{"names":["a","b\\u00fc",{"x":1},'
        b'"\\ud83d\\ude00"],"other":[1,2.5e3,true,null]}')
    lines = auditgen.chain([auditgen.block_body(
        "2026-11-23T05:19:33.123Z", "192.0.2.7", 1, "www.binance.com",
        "binance.com", "exchanges")] * 3)
    text = "".join(ln + "\n" for ln in lines).encode()
    put(a.dir, "fuzz_auditline", b"\x00" + lines[0].encode())
    put(a.dir, "fuzz_auditline", b"\x01" + text)
    put(a.dir, "fuzz_auditline", b"\x01" + gzip.compress(text))
    cpol = os.environ.get("SEED_CPOL")
    if cpol and os.path.exists(cpol):
        data = open(cpol, "rb").read()
        put(a.dir, "fuzz_cpol", b"\x01" + data)
        put(a.dir, "fuzz_cpol", b"\x00" + data)


if __name__ == "__main__":
    main()
