"""Differential test: cordond against Unbound, both forwarding to the same
authoritative NSD serving the signed zones of authserver.py.

Unbound runs as a plain caching forwarder (`module-config: "iterator"`,
no validation, cache on, `qname-minimisation: no`, `do-not-query-
localhost: no`, harden-* left at their defaults, `forward-zone: name: "."`
to the NSD).  cordond runs with its default configuration.  A few hundred
queries, generated deterministically (seeded), go to both in the same
order (so both caches see the same history), over UDP and some over TCP:
A/AAAA/TXT/MX/CNAME/NS/SOA/DS/DNSKEY/ANY/SRV for existing, NXDOMAIN and
NODATA names, a CNAME chain, a wildcard, a bogus record, DO and CD on and
off, EDNS off and on with payloads from 100 to 4096 (and a big TXT that
does not fit), EDNS version 1, an unknown EDNS option, unknown opcodes,
RD=0, case-randomised names, classes CH and ANY, QDCOUNT 0 and 2.

Compared per query: whether an answer came, rcode, opcode, the flags QR
AA TC RD RA AD CD, the question section bytes, the answer RRsets (as
sets, TTLs ignored; not when either side set TC), the denial records of
the authority section (SOA/NSEC/NSEC3 and their RRSIGs), OPT presence,
version and DO, EDE presence, options other than EDE.  Differences
listed in ALLOWED (with the reason for each) are tolerated; any other
fails the test with one line per query and field: cordond vs unbound.

Run: cd tests/system && /usr/bin/python3 -m pytest test_differential.py
(needs nsd, unbound and ldnsutils; well under 60 s).
"""

import random
import socket
import struct
import time

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest

import authserver
from authserver import nsd, zones  # noqa: F401 (fixtures)
from helpers import tcp_connect, tcp_frame, tcp_recv_msg, udp_raw

SEED = 20261203
RANDOM_QUERIES = 320
TIME_LIMIT = 60.0
TIMEOUT = 1.5
FLAG_NAMES = ["QR", "AA", "TC", "RD", "RA", "AD", "CD"]
UNKNOWN_OPTION = 65001

EXISTING = [
    ("example.test", ["SOA", "NS", "MX", "DNSKEY", "DS", "A", "TXT"]),
    ("www.example.test", ["A", "AAAA", "TXT", "MX", "SRV", "CNAME", "ANY"]),
    ("mail.example.test", ["A", "AAAA", "MX"]),
    ("alias.example.test", ["A", "AAAA", "CNAME", "TXT"]),
    ("chain.example.test", ["A", "AAAA", "CNAME"]),
    ("dangling.example.test", ["A", "CNAME"]),
    ("x.wild.example.test", ["A", "TXT", "MX"]),
    ("a.b.wild.example.test", ["A", "AAAA"]),
    ("multi.example.test", ["MX", "A"]),
    ("big.example.test", ["TXT", "A"]),
    ("bogus.example.test", ["A", "TXT"]),
    ("sub.example.test", ["DS"]),
    ("nsec3.test", ["SOA", "NS", "DNSKEY", "MX"]),
    ("www.nsec3.test", ["A", "AAAA", "TXT", "SRV"]),
    ("alias.nsec3.test", ["A", "CNAME"]),
]
PAYLOADS = [100, 512, 512, 600, 1232, 1232, 1400, 4096]


class Case:
    """One query: its wire form and how it was made (for the report)."""

    def __init__(self, n, wire, desc, proto="udp", **tags):
        self.n = n
        self.wire = wire
        self.desc = desc
        self.proto = proto
        self.tags = tags            # qtype, qclass, edns, do, cd, rd, opcode
        self.essential = None       # see essential_size()

    def __str__(self):
        return "#%d %s/%s" % (self.n, self.desc, self.proto)


def randomise_case(rng, name):
    return "".join(c.upper() if c.isalpha() and rng.random() < 0.5 else c
                   for c in name)


def build(rng, n, qname, qtype="A", *, qclass="IN", edns=0, payload=1232,
          do=False, cd=False, rd=True, opcode=0, option=False,
          proto="udp", qdcount=None, mixcase=False):
    if mixcase:
        qname = randomise_case(rng, qname)
    q = dns.message.make_query(qname, qtype, qclass)
    q.id = rng.randrange(65536)
    if not rd:
        q.flags &= ~dns.flags.RD
    if cd:
        q.flags |= dns.flags.CD
    if edns is not None:
        opts = [dns.edns.GenericOption(UNKNOWN_OPTION, b"\x01\x02")] \
            if option else []
        q.use_edns(edns, dns.flags.DO if do else 0, payload, options=opts)
    q.set_opcode(opcode)
    wire = q.to_wire()
    if qdcount == 0:
        wire = wire[:4] + b"\x00\x00" + wire[6:10] + b"\x00\x00"
    elif qdcount == 2:
        question = wire[12:12 + len(qname.rstrip(".")) + 2 + 4]
        wire = wire[:4] + b"\x00\x02" + wire[6:12] + question + question
    bits = [qtype, "" if qclass == "IN" else qclass,
            "noedns" if edns is None else "edns%d/%d" % (edns, payload),
            "do" if do else "", "cd" if cd else "", "" if rd else "rd0",
            "opcode%d" % opcode if opcode else "",
            "opt%d" % UNKNOWN_OPTION if option else "",
            "" if qdcount is None else "qdcount%d" % qdcount]
    desc = "%s %s" % (qname, " ".join(b for b in bits if b))
    return Case(n, wire, desc, proto, qtype=qtype, qclass=qclass, edns=edns,
                do=do, cd=cd, rd=rd, opcode=opcode, qdcount=qdcount,
                payload=payload)


def generate():
    """The queries, always the same ones (seeded)."""
    rng = random.Random(SEED)
    cases = []

    def add(*a, **kw):
        cases.append(build(rng, len(cases) + 1, *a, **kw))

    # fixed odd cases first, then again after the cache is warm
    for rep in range(2):
        add("big.example.test", "TXT", edns=0, payload=512)
        add("big.example.test", "TXT", edns=0, payload=1232, do=True)
        add("big.example.test", "TXT", edns=None)
        add("big.example.test", "TXT", edns=0, payload=4096)
        add("big.example.test", "TXT", edns=0, payload=1232, proto="tcp")
        add("multi.example.test", "MX", edns=0, payload=512, do=True)
        add("multi.example.test", "MX", edns=None)
        add("www.example.test", "A", edns=1)
        add("www.example.test", "A", edns=1, cd=True, do=True)
        add("www.example.test", "A", option=True)
        add("nx-opt.example.test", "A", option=True, do=True)
        for opcode in (2, 3, 5, 15):
            add("www.example.test", "A", opcode=opcode, edns=None)
            add("www.example.test", "A", opcode=opcode, cd=True)
        add("version.bind", "TXT", qclass="CH", edns=None)
        add("www.example.test", "A", qclass="CH")
        add("www.example.test", "A", qclass="ANY")
        add("www.example.test", "A", qdcount=0, edns=None)
        add("www.example.test", "A", qdcount=2, edns=None)
        add("www.example.test", "A", qdcount=2, cd=True, edns=None)
        add("mail.example.test", "A", rd=False)
        add("never-asked.example.test", "A", rd=False)
        add("WwW.ExAmPlE.TeSt", "A")
        add("bogus.example.test", "A", do=True, cd=True)
        add("bogus.example.test", "A", do=True)
    for _ in range(RANDOM_QUERIES):
        r = rng.random()
        if r < 0.2:
            zone = rng.choice(["example.test", "nsec3.test"])
            qname = "nx%d.%s" % (rng.randrange(10 ** 6), zone)
            qtype = rng.choice(["A", "AAAA", "TXT", "MX"])
        else:
            qname, types = rng.choice(EXISTING)
            qtype = rng.choice(types)
        edns = rng.choices([0, None, 1], [80, 17, 3])[0]
        add(qname, qtype, edns=edns, payload=rng.choice(PAYLOADS),
            do=edns is not None and rng.random() < 0.5,
            cd=rng.random() < 0.3, rd=rng.random() < 0.93,
            option=edns is not None and rng.random() < 0.08,
            mixcase=rng.random() < 0.5,
            proto="tcp" if rng.random() < 0.15 else "udp")
    return cases


# ---------------------------------------------------------------- comparing

def question_section(wire):
    """The raw question section of a message (QDCOUNT questions)."""
    qd = struct.unpack("!H", wire[4:6])[0]
    pos = 12
    for _ in range(qd):
        while pos < len(wire) and wire[pos] != 0:
            if wire[pos] >= 0xC0:
                pos += 1
                break
            pos += wire[pos] + 1
        pos += 1 + 4
    return wire[12:pos]


def canonical_text(rd):
    """rdata text with the names inside it lower-cased (RFC 4034 6.2):
    a server may compress rdata names against the query's letter case."""
    wire = rd.to_digestable()
    return dns.rdata.from_wire(rd.rdclass, rd.rdtype, wire, 0,
                               len(wire)).to_text()


def rrset_key(r):
    covers = dns.rdatatype.to_text(r.covers) \
        if r.rdtype == dns.rdatatype.RRSIG else ""
    return (str(r.name).lower(), dns.rdataclass.to_text(r.rdclass),
            dns.rdatatype.to_text(r.rdtype), covers,
            tuple(sorted(canonical_text(rd) for rd in r)))


DENIAL = {"SOA", "NSEC", "NSEC3"}


def summarize(data):
    """{field: comparable value} of an answer (bytes or None).  The header
    fields come from the raw bytes; the sections are parsed only for
    opcode QUERY (dnspython will not parse every other opcode)."""
    if data is None:
        return {"answered": False}
    if len(data) < 12:
        return {"answered": True, "parses": "no: %d octets" % len(data)}
    flags = struct.unpack("!H", data[2:4])[0]
    out = {"answered": True, "id": data[:2].hex(),
           "opcode": dns.opcode.to_text((flags >> 11) & 0xF),
           "rcode": dns.rcode.to_text(flags & 0xF),
           "question": question_section(data).hex()}
    for f in FLAG_NAMES:
        out[f] = bool(flags & dns.flags.from_text(f))
    if (flags >> 11) & 0xF != 0:
        out["parses"] = "not tried"
        return out
    try:
        m = dns.message.from_wire(data)
    except Exception as e:      # what came back does not parse
        out["parses"] = "no: %s" % type(e).__name__
        return out
    out["parses"] = "yes"
    out["rcode"] = dns.rcode.to_text(m.rcode())
    out["answer"] = sorted(rrset_key(r) for r in m.answer)
    den = []
    for r in m.authority:
        t = dns.rdatatype.to_text(r.rdtype)
        if t in DENIAL:
            den.append(t)
        elif t == "RRSIG" and dns.rdatatype.to_text(r.covers) in DENIAL:
            den.append("RRSIG(%s)" % dns.rdatatype.to_text(r.covers))
    out["denial"] = sorted(set(den))
    out["opt"] = None if m.edns < 0 else "v%d%s" % (
        m.edns, " do" if m.ednsflags & dns.flags.DO else "")
    out["ede"] = any(o.otype == 15 for o in m.options)
    out["options"] = sorted(o.otype for o in m.options if o.otype != 15)
    return out


def compare(a, b):
    """[(field, a value, b value)] where the two summaries differ."""
    diffs = []
    cut = a.get("TC") or b.get("TC")
    for field in sorted(set(a) | set(b)):
        if field in ("answer", "denial") and cut:
            continue
        if a.get(field) != b.get(field):
            diffs.append((field, a.get(field), b.get(field)))
    return diffs


# ------------------------------------------- the documented differences

def _tag(name, *values):
    return lambda c: c.tags.get(name) in values


def _needs_tc(c):
    """cordond's answer cannot fit without TC: NSD's answer and authority
    sections (what cordond forwards; only the additional section is
    optional) exceed cordond's UDP limit for this query, max(512,
    min(client payload, [server] edns_size = 1232)), 512 without EDNS."""
    return c.proto == "udp" and c.essential is not None and (
        c.essential > udp_limit(c))


def udp_limit(c):
    if c.tags["edns"] is None:
        return 512
    return max(512, min(c.tags["payload"], 1232))


ANYVAL = object()

# The documented differences: (field, applies to the case?, cordond value,
# unbound value, reason).  ANYVAL matches every value.  Nothing else may
# differ.
ALLOWED = [
    ("TC", _needs_tc, True, False,
     "cordond caps UDP answers at [server] edns_size (1232 by default, "
     "test_edns.py::test_answer_capped_at_edns_size) where Unbound's "
     "max-udp-size is 4096; and cordond forwards NSD's authority section "
     "(NS + RRSIG) where Unbound's minimal-responses drops it.  Allowed "
     "only when NSD's answer+authority really exceed cordond's limit"),
    ("RA", _tag("qdcount", 0, 2), True, False,
     "FORMERR: PRODUCT.md says RA is set on every answer but NOTIMP; "
     "Unbound clears RA on FORMERR"),
    ("question", _tag("qdcount", 2), "", ANYVAL,
     "FORMERR for QDCOUNT=2: cordond answers with no question section, "
     "Unbound echoes both questions"),
    ("answer", _tag("qtype", "ANY"), ANYVAL, ANYVAL,
     "RFC 8482: an ANY answer may be any subset; Unbound answers ANY from "
     "its cache, cordond forwards NSD's answer"),
    ("rcode", _tag("qclass", "CH", "ANY"), "REFUSED", ANYVAL,
     "cordond serves class IN only and refuses other classes itself "
     "(REFUSED with EDE 21 Not Supported); Unbound answers version.bind "
     "CH itself and class ANY from its IN cache"),
    ("ede", _tag("qclass", "CH", "ANY"), True, False,
     "the EDE 21 of cordond's REFUSED for a class it does not serve"),
    ("answer", _tag("qclass", "CH", "ANY"), [], ANYVAL,
     "Unbound answers version.bind CH itself and class ANY from its IN "
     "cache; cordond's REFUSED has no answer"),
    ("ede", _tag("rd", False), True, False,
     "RD=0 without [server] allow_snoop: both REFUSED; cordond says why "
     "with EDE 20 Not Authoritative (RFC 8914 4.21), Unbound adds none"),
]


def allowed(case, field, va, vb):
    for f, applies, want_a, want_b, _ in ALLOWED:
        if f == field and applies(case) and (
                want_a is ANYVAL or want_a == va) and (
                want_b is ANYVAL or want_b == vb):
            return True
    return False


def essential_size(nsd_port, case):
    """The size of NSD's answer to case (over TCP) without its additional
    section (the OPT record kept), or None."""
    try:
        with tcp_connect(nsd_port, timeout=TIMEOUT) as s:
            s.sendall(tcp_frame(case.wire))
            data = tcp_recv_msg(s, TIMEOUT)
        m = dns.message.from_wire(data)
    except Exception:
        return None
    m.additional = []
    return len(m.to_wire(max_size=65535))


# ---------------------------------------------------------------- sending

class Client:
    """Sends cases to one server; one TCP connection reused across TCP
    queries (reopened when the server closed it)."""

    def __init__(self, port):
        self.port = port
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.tcp = None

    def send(self, case):
        if case.proto == "udp":
            return udp_raw(self.port, case.wire, sock=self.udp,
                           timeout=TIMEOUT)
        for _ in range(2):
            if self.tcp is None:
                self.tcp = tcp_connect(self.port, timeout=TIMEOUT)
            try:
                self.tcp.sendall(tcp_frame(case.wire))
                data = tcp_recv_msg(self.tcp, TIMEOUT)
            except OSError:
                data = None
            if data is not None:
                return data
            self.close_tcp()
        return None

    def close_tcp(self):
        if self.tcp is not None:
            self.tcp.close()
            self.tcp = None

    def close(self):
        self.close_tcp()
        self.udp.close()


def run_cases(cases, port_a, port_b):
    """Sends every case to a then b; returns [(case, summary a, summary
    b)]."""
    a, b = Client(port_a), Client(port_b)
    out = []
    try:
        for case in cases:
            out.append((case, summarize(a.send(case)),
                        summarize(b.send(case))))
    finally:
        a.close()
        b.close()
    return out


def report(rows, names=("cordond", "unbound")):
    """The undocumented differences as readable lines."""
    lines = []
    for case, sa, sb in rows:
        for field, va, vb in compare(sa, sb):
            if not allowed(case, field, va, vb):
                lines.append("%s -> %s: %s %r vs %s %r" % (
                    case, field, names[0], va, names[1], vb))
    return lines


# ------------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def forwarder(tmp_path_factory, nsd):
    s = authserver.Unbound(tmp_path_factory.mktemp("forwarder"), nsd)
    try:
        s.start()
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    yield s
    s.stop()


# --------------------------------------------------------------------- tests

def test_generated_queries_are_deterministic_and_varied():
    a, b = generate(), generate()
    assert [c.wire for c in a] == [c.wire for c in b]
    assert len(a) >= 300
    kinds = {(c.tags["edns"], c.tags["do"], c.tags["cd"], c.tags["rd"],
              c.proto) for c in a}
    assert len(kinds) >= 16, kinds


def test_comparator_sees_differences(forwarder, nsd):
    """Unbound vs NSD itself must differ (RA, AA at least): the comparison
    is not blind."""
    cases = [c for c in generate()[:60] if c.tags["opcode"] == 0
             and c.tags["qdcount"] is None]
    rows = run_cases(cases, forwarder.port, nsd.port)
    fields = {f for _, sa, sb in rows for f, _, _ in compare(sa, sb)}
    assert {"RA", "AA"} <= fields, fields
    assert report(rows, ("unbound", "nsd"))


def test_cordond_and_unbound_agree(start_cordond, nsd, forwarder):
    d = start_cordond(servers=nsd.server)
    cases = generate()
    t0 = time.monotonic()
    rows = run_cases(cases, d.port, forwarder.port)
    for case, sa, sb in rows:
        if sa.get("TC") and not sb.get("TC"):
            case.essential = essential_size(nsd.port, case)
    elapsed = time.monotonic() - t0
    assert d.alive(), "cordond died during the differential run"
    answered = sum(1 for _, sa, _ in rows if sa["answered"])
    assert answered >= len(cases) - 10, "%d of %d answered" % (
        answered, len(cases))
    lines = report(rows)
    assert not lines, "%d undocumented differences (of %d queries):\n%s" % (
        len(lines), len(cases), "\n".join(lines))
    assert elapsed < TIME_LIMIT, "took %.1fs" % elapsed


def test_cordond_contract_on_every_generated_query(start_cordond, nsd):
    """What PRODUCT.md requires of every answer, whatever Unbound does:
    the ID and the question echoed byte for byte, OPT iff the query had
    one, unknown options never echoed, BADVERS for EDNS version 1, NOTIMP
    for other opcodes, FORMERR for QDCOUNT 0 or 2."""
    d = start_cordond(servers=nsd.server)
    client = Client(d.port)
    problems = []
    try:
        for case in generate():
            data = client.send(case)
            s = summarize(data)
            t = case.tags

            def bad(what):
                problems.append("%s -> %s: %r" % (case, what, {
                    k: s.get(k) for k in ("rcode", "opt", "options",
                                          "question")}))
            if not s["answered"]:
                bad("no answer")
                continue
            if s.get("parses") not in ("yes", "not tried"):
                bad("answer does not parse")
                continue
            if s["id"] != case.wire[:2].hex():
                bad("ID not copied")
            if t["qdcount"] in (0, 2):
                if s["rcode"] != "FORMERR":
                    bad("FORMERR expected")
                continue
            if s["question"] != question_section(case.wire).hex():
                bad("question not echoed byte for byte")
            if t["opcode"]:
                if s["rcode"] != "NOTIMP" or s["RA"]:
                    bad("NOTIMP without RA expected")
                if s["CD"] != t["cd"]:
                    bad("CD not copied")
                arcount = struct.unpack("!H", data[10:12])[0]
                if (arcount == 1) != (t["edns"] is not None):
                    bad("OPT present iff the query had one")
                continue
            if (s["opt"] is not None) != (t["edns"] is not None):
                bad("OPT present iff the query had one")
            if UNKNOWN_OPTION in s["options"]:
                bad("unknown option echoed")
            if t["edns"] == 1 and s["rcode"] != "BADVERS":
                bad("BADVERS expected")
            if s["RD"] != t["rd"]:
                bad("RD not copied")
            if s["CD"] != t["cd"]:
                bad("CD not copied")
            if not t["rd"] and s["rcode"] != "REFUSED":
                bad("RD=0 from a client not in allow_snoop: REFUSED "
                    "expected")
    finally:
        client.close()
    assert not problems, "%d problems:\n%s" % (len(problems),
                                               "\n".join(problems))
