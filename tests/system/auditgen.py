"""Writes audit logs in cordond's exact line format (daemon/audit/audit.c), for
tests of `cordon audit` and for benchmarks.

Each line is {"seq":N,BODY,"prev":"HEX"} where HEX is the SHA-256 of the
previous line's bytes (without its newline); the first line of a log has
64 zeros.  Bodies are built member by member in the writer's order.

    python3 auditgen.py --lines 1000000 OUT     # a synthetic log
"""

import argparse
import hashlib
import json
import sys
import time

GENESIS = "0" * 64


def jstr(v):
    """A JSON string or null, as audit.c writes it (no spaces)."""
    return "null" if v is None else json.dumps(v, ensure_ascii=False)


def ts_text(day, secs, ms=0):
    """2026-11-DDThh:mm:ss.mmmZ for a day of November 2026."""
    return "2026-11-%02dT%02d:%02d:%02d.%03dZ" % (
        day, secs // 3600, secs // 60 % 60, secs % 60, ms)


def block_body(ts, client, port, qname, rule, lst, category="exchange",
               proto="udp", qtype="A", action="nxdomain", trigger="qname",
               answer_ip=None, geo=None, policy="5f3c1a0b2d4e6f70"):
    """The body of a blocked-attempt line; geo is a JSON text or None."""
    parts = ['"ts":%s' % jstr(ts), '"client":%s' % jstr(client),
             '"port":%s' % ("null" if port is None else port),
             '"proto":%s' % jstr(proto), '"qname":%s' % jstr(qname),
             '"qtype":%s' % jstr(qtype), '"action":%s' % jstr(action),
             '"trigger":%s' % jstr(trigger), '"rule":%s' % jstr(rule),
             '"list":%s' % jstr(lst), '"category":%s' % jstr(category),
             '"answer_ip":%s' % jstr(answer_ip)]
    if geo is not None:
        parts.append('"geo":%s' % geo)
    parts.append('"policy":%s' % jstr(policy))
    return ",".join(parts)


def geo_json(client_cc=None, client_asn=None, answer_cc=None,
             answer_asn=None):
    def place(cc, asn):
        if cc is None:
            return "null"
        return '{"country":%s,"asn":%d}' % (jstr(cc), asn)
    return '{"client":%s,"answer":%s}' % (place(client_cc, client_asn),
                                          place(answer_cc, answer_asn))


def policy_body(ts, policy, previous, entries, lists, by):
    return ('"ts":%s,"event":"policy","policy":%s,"previous":%s,'
            '"entries":%d,"lists":%d,"by":%s' % (
                jstr(ts), jstr(policy), jstr(previous), entries, lists,
                jstr(by)))


def gap_body(ts, lost):
    return '"ts":%s,"event":"gap","lost":%d' % (jstr(ts), lost)


def chain(bodies, seq=1, prev=GENESIS):
    """Returns the lines (str, no newline) for bodies, numbered from seq
    and chained from prev."""
    lines = []
    for body in bodies:
        line = '{"seq":%d,%s,"prev":"%s"}' % (seq, body, prev)
        prev = hashlib.sha256(line.encode()).hexdigest()
        lines.append(line)
        seq += 1
    return lines


def line_hash(line):
    return hashlib.sha256(line.encode()).hexdigest()


def write_lines(path, lines):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for line in lines:
            f.write(line + "\n")


def ts_of_ms(ms):
    """RFC 3339 with milliseconds, UTC, for ms since the epoch."""
    secs, ms = divmod(ms, 1000)
    t = time.gmtime(secs)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (
        t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ms)


NOV_1_2026_MS = 1793491200000


def synthetic(n, out):
    """n chained lines over 29 days of November 2026: a start policy event,
    blocked attempts from 256 clients for 2,000 names in three lists, and
    a policy change in the middle."""
    names = ["host%d.exchange%d.example" % (i % 7, i) for i in range(2000)]
    lists = ("exchanges", "ico", "otc")
    geo = geo_json("CN", 4134)
    step = 29 * 86400 * 1000 // max(n, 1)
    prev, seq = GENESIS, 1
    h = hashlib.sha256
    policy = "5f3c1a0b2d4e6f70"
    for i in range(n):
        ts = ts_of_ms(NOV_1_2026_MS + i * step)
        if i == 0:
            body = policy_body(ts, policy, None, 124, 3, "start")
        elif i == n // 2:
            body = policy_body(ts, "77aa01c2d3e4f506", policy, 130, 3,
                               "signal")
            policy = "77aa01c2d3e4f506"
        else:
            name = names[i % 2000]
            body = block_body(
                ts, "192.0.2.%d" % (i % 256), 1024 + i % 60000, name,
                name.split(".", 1)[1], lists[i % 3], geo=geo, policy=policy)
        line = '{"seq":%d,%s,"prev":"%s"}' % (seq, body, prev)
        b = line.encode()
        prev = h(b).hexdigest()
        out.write(b)
        out.write(b"\n")
        seq += 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lines", type=int, default=1000000)
    ap.add_argument("out")
    a = ap.parse_args()
    with open(a.out, "wb", buffering=1 << 20) as out:
        synthetic(a.lines, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
