"""Filtering on what the upstream answered (PRODUCT.md, "Configuration"
[policy] check_cname / check_answer_ips, "Sources manifest" matching rules,
"Answers", "Audit log"):

- a CNAME or DNAME chain that passes through a listed name (with no more
  specific allow entry) replaces the answer with the configured action,
  logged with "trigger":"cname" and the listed entry as "rule";
- an A/AAAA record inside a blocked `cidr` range (with no more specific
  allow range) does the same with "trigger":"ip" and "answer_ip";
- a cached answer is judged by the policy in force when it is served;
- the two [policy] switches turn each check off;
- cordon_blocked_total{list,trigger} counts both.

The session stub upstream (upstream.py) serves the keyword names; a small
in-process stub (CannedUpstream below) serves the chains the keyword stub
cannot express (DNAME, several hops, mixed record sets)."""

import json
import os
import signal
import socket
import threading
import time

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from conftest import free_port
from helpers import (MANIFEST, ede_list, rcode_text, read_lines, rrsets_of,
                     soa_of, verify_chain,
                     metrics_until)

# ---- lists ---------------------------------------------------------------

CHAINS = "target.test\nevil.test\n"
CHAIN_ALLOW = "ok.evil.test\n"
HOSTNETS = """\
# answers must not point here
192.0.2.0/24
198.51.100.7
203.0.113.10-203.0.113.20
2001:db8::/32
"""
HOSTALLOW = "192.0.2.128/25\n2001:db8:1::/48\n"

FILTER_MANIFEST = MANIFEST + """
[source chains]
file = chains.domains
format = domains
category = tracking
kind = block

[source chainallow]
file = chainallow.domains
format = domains
category = allowed
kind = allow

[source hostnets]
file = hostnets.cidr
format = cidr
category = offshore-hosting
kind = block

[source hostallow]
file = hostallow.cidr
format = cidr
category = allowed
kind = allow
"""


def lists(chains=CHAINS, hostnets=HOSTNETS):
    """The default lists plus ours ("" writes a list of one comment)."""
    return {"sources.ini": FILTER_MANIFEST,
            "chains.domains": chains or "# none\n",
            "chainallow.domains": CHAIN_ALLOW,
            "hostnets.cidr": hostnets or "# none\n",
            "hostallow.cidr": HOSTALLOW}


# ---- helpers -------------------------------------------------------------

def records(d, qname=None, n=1, timeout=2.0):
    """The blocked-attempt records of d's audit log (for qname only, when
    given), once there are n of them or timeout passed."""
    deadline = time.monotonic() + timeout
    while True:
        out = []
        for ln in read_lines(d.audit, 0, 0):
            rec = json.loads(ln)
            if "event" in rec:
                continue
            if qname is None or rec.get("qname") == qname:
                out.append(rec)
        if len(out) >= n or time.monotonic() >= deadline:
            return out
        time.sleep(0.02)


def events(d):
    return [json.loads(ln) for ln in read_lines(d.audit, 0, 0)
            if '"event"' in ln]


def reload(d, timeout=5.0):
    """SIGHUP, then waits for the new policy event line."""
    before = len(events(d))
    os.kill(d.proc.pid, signal.SIGHUP)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(events(d)) > before:
            return
        time.sleep(0.02)
    pytest.fail("no policy event line within %.0fs of SIGHUP:\n%s" % (
        timeout, d.output()))


def assert_blocked(resp, list_name, edns=True):
    assert rcode_text(resp) == "NXDOMAIN", resp
    assert not resp.answer, resp
    soa_of(resp)
    if edns:
        edes = ede_list(resp)
        assert len(edes) == 1, edes
        assert edes[0][0] == 15 and list_name in edes[0][1], edes


def assert_one_record(d, qname, trigger, rule, list_name, answer_ip=None,
                      category=None, proto="udp", qtype="A"):
    recs = records(d, qname)
    assert len(recs) == 1, (qname, recs)
    rec = recs[0]
    got = {k: rec.get(k) for k in ("qname", "qtype", "trigger", "rule",
                                   "list", "answer_ip", "action", "proto")}
    want = {"qname": qname, "qtype": qtype, "trigger": trigger,
            "rule": rule, "list": list_name, "answer_ip": answer_ip,
            "action": "nxdomain", "proto": proto}
    assert got == want, rec
    if category is not None:
        assert rec.get("category") == category, rec
    return rec


class CannedUpstream:
    """A UDP DNS server in a thread answering from a table:
    {(qname, qtype): [rrset text lines]}; every other question gets
    NXDOMAIN with a SOA.  Logs each question it gets in self.asked."""

    SOA = "test. 60 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 30"

    def __init__(self, table):
        self.table = {(k[0].lower().rstrip(".") + ".", k[1]): v
                      for k, v in table.items()}
        self.port = free_port()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.settimeout(0.1)
        self.asked = []
        self.stopping = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    @property
    def server(self):
        return "127.0.0.1:%d" % self.port

    def serve(self):
        while not self.stopping:
            try:
                data, peer = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                q = dns.message.from_wire(data)
            except Exception:
                continue
            qname = q.question[0].name.to_text().lower()
            qtype = dns.rdatatype.to_text(q.question[0].rdtype)
            self.asked.append((qname, qtype))
            resp = dns.message.make_response(q, recursion_available=True)
            lines = self.table.get((qname, qtype))
            if lines is None:
                resp.set_rcode(dns.rcode.NXDOMAIN)
                resp.authority.append(dns.rrset.from_text(
                    *self.SOA.split(None, 4)))
            else:
                for line in lines:
                    owner, ttl, cls, rtype, rdata = line.split(None, 4)
                    rr = dns.rrset.from_text(owner, int(ttl), cls, rtype,
                                             rdata)
                    merged = False
                    for have in resp.answer:
                        if have.name == rr.name and have.rdtype == rr.rdtype:
                            have.union_update(rr)
                            merged = True
                    if not merged:
                        resp.answer.append(rr)
            self.sock.sendto(resp.to_wire(), peer)

    def stop(self):
        self.stopping = True
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def canned():
    made = []

    def make(table):
        up = CannedUpstream(table)
        made.append(up)
        return up

    yield make
    for up in made:
        up.stop()


CANNED = {
    # DNAME with its synthesised CNAME (RFC 6672) into a listed zone.
    ("www.dn.test", "A"): [
        "dn.test. 300 IN DNAME evil.test.",
        "www.dn.test. 300 IN CNAME www.evil.test.",
        "www.evil.test. 300 IN A 192.0.2.200"],
    # Three hops; the middle one is below a listed name.
    ("a.hops.test", "A"): [
        "a.hops.test. 300 IN CNAME b.hops.test.",
        "b.hops.test. 300 IN CNAME cdn.evil.test.",
        "cdn.evil.test. 300 IN CNAME c.clean.test.",
        "c.clean.test. 300 IN A 192.0.2.200"],
    # Letter case of the target differs from the list.
    ("mixed.test", "A"): [
        "mixed.test. 300 IN CNAME WWW.Evil.TEST.",
        "WWW.Evil.TEST. 300 IN A 192.0.2.200"],
    # The chain ends below a more specific allow entry.
    ("allowed.test", "A"): [
        "allowed.test. 300 IN CNAME www.ok.evil.test.",
        "www.ok.evil.test. 300 IN A 192.0.2.200"],
    # A DNAME into the allowed part of the listed zone.
    ("www.dnok.test", "A"): [
        "dnok.test. 300 IN DNAME ok.evil.test.",
        "www.dnok.test. 300 IN CNAME www.ok.evil.test.",
        "www.ok.evil.test. 300 IN A 192.0.2.200"],
    # A chain that only looks like a listed name.
    ("near.test", "A"): [
        "near.test. 300 IN CNAME notevil.test.",
        "notevil.test. 300 IN A 192.0.2.200"],
    # Several addresses, one in a blocked range, listed after an allowed one.
    ("multi.test", "A"): [
        "multi.test. 300 IN A 192.0.2.200",
        "multi.test. 300 IN A 192.0.2.201",
        "multi.test. 300 IN A 198.51.100.7"],
    ("multi6.test", "AAAA"): [
        "multi6.test. 300 IN AAAA 2001:db8:1::5",
        "multi6.test. 300 IN AAAA 2001:db8:2::5"],
    # Every address allowed.
    ("fine.test", "A"): [
        "fine.test. 300 IN A 192.0.2.200",
        "fine.test. 300 IN A 192.0.2.129"],
}


# ---- CNAME / DNAME chains ------------------------------------------------

def test_cname_into_listed_name_blocked_and_logged(start_cordond, upstream):
    d = start_cordond(list_files=lists(hostnets=""))
    q = "c1.cname.a-192-0-2-200.test"
    resp = d.udp(q, "A", edns=0)
    assert_blocked(resp, "chains")
    assert "target.test" in ede_list(resp)[0][1]
    assert upstream.count(q, "A") == 1
    rec = assert_one_record(d, q, "cname", "target.test", "chains",
                            category="tracking")
    assert rec["answer_ip"] is None
    verify_chain(read_lines(d.audit, 0, 0))


def test_cname_block_over_tcp_and_aaaa(start_cordond):
    d = start_cordond(list_files=lists(hostnets=""))
    q = "c2.cname.test"
    assert_blocked(d.tcp(q, "AAAA", edns=0), "chains")
    assert_one_record(d, q, "cname", "target.test", "chains", proto="tcp",
                      qtype="AAAA")


def test_cname_block_without_edns_has_no_opt(start_cordond):
    d = start_cordond(list_files=lists(hostnets=""))
    resp = d.udp("c3.cname.test", "A")
    assert_blocked(resp, "chains", edns=False)
    assert resp.edns < 0 and not ede_list(resp), resp


@pytest.mark.parametrize("action,check", [
    ("nodata", lambda r: rcode_text(r) == "NOERROR" and not r.answer
     and soa_of(r) is not None),
    ("refused", lambda r: rcode_text(r) == "REFUSED" and not r.answer),
    ("sinkhole", lambda r: rrsets_of(r.answer) == {
        ("c4.cname.test.", "A"): ["0.0.0.0"]}),
])
def test_cname_block_uses_configured_action(start_cordond, action, check):
    d = start_cordond({"policy": {"action": action}},
                      list_files=lists(hostnets=""))
    resp = d.udp("c4.cname.test", "A", edns=0)
    assert check(resp), resp
    edes = ede_list(resp)
    assert edes and edes[0][0] == 15 and "chains" in edes[0][1], edes
    recs = records(d, "c4.cname.test")
    assert [(r["trigger"], r["action"]) for r in recs] == [
        ("cname", action)], recs


@pytest.mark.parametrize("qname,rule", [
    ("www.dn.test", "evil.test"),
    ("a.hops.test", "evil.test"),
    ("mixed.test", "evil.test"),
])
def test_dname_and_long_chains_into_listed_zone(start_cordond, canned, qname,
                                                rule):
    up = canned(CANNED)
    d = start_cordond(list_files=lists(hostnets=""), servers=up.server)
    assert_blocked(d.udp(qname, "A", edns=0), "chains")
    assert (qname + ".", "A") in up.asked
    assert_one_record(d, qname, "cname", rule, "chains")


@pytest.mark.parametrize("qname,target", [
    ("allowed.test", "www.ok.evil.test."),
    ("www.dnok.test", "www.ok.evil.test."),
    ("near.test", "notevil.test."),
])
def test_chain_below_allow_entry_or_unlisted_passes(start_cordond, canned,
                                                    qname, target):
    up = canned(CANNED)
    d = start_cordond(list_files=lists(hostnets=""), servers=up.server)
    resp = d.udp(qname, "A", edns=0)
    assert rcode_text(resp) == "NOERROR", resp
    got = rrsets_of(resp.answer)
    assert got[(target, "A")] == ["192.0.2.200"], resp
    assert not ede_list(resp), resp
    assert records(d, qname, timeout=0.3) == []


def test_check_cname_off_answers_normally(start_cordond, upstream):
    d = start_cordond({"policy": {"check_cname": "no"}},
                      list_files=lists())
    q = "c5.cname.a-192-0-2-200.test"
    resp = d.udp(q, "A", edns=0)
    assert rrsets_of(resp.answer) == {
        (q + ".", "CNAME"): ["target.test."],
        ("target.test.", "A"): ["192.0.2.200"]}, resp
    # The name itself is still blocked, and addresses are still checked.
    assert_blocked(d.udp("target.test", "A", edns=0), "chains")
    assert_blocked(d.udp("c6.cname.a-192-0-2-7.test", "A", edns=0),
                   "hostnets")
    assert records(d, q, timeout=0.3) == []
    assert [r["trigger"] for r in records(d, "target.test")] == ["qname"]
    assert [r["trigger"] for r in records(d, "c6.cname.a-192-0-2-7.test")
            ] == ["ip"]


def test_cached_answer_is_judged_by_policy_in_force(start_cordond, upstream):
    d = start_cordond(list_files=lists(chains="evil.test\n", hostnets=""))
    q = "c7.cname.a-192-0-2-200.test"
    resp = d.udp(q, "A")
    assert rcode_text(resp) == "NOERROR" and len(resp.answer) == 2, resp
    assert upstream.count(q) == 1
    # Cached now: asking again does not reach the upstream.
    assert rcode_text(d.udp(q, "A")) == "NOERROR"
    assert upstream.count(q) == 1
    (d.workdir / "lists" / "chains.domains").write_text(CHAINS)
    reload(d)
    assert_blocked(d.udp(q, "A", edns=0), "chains")
    assert upstream.count(q) == 1, upstream.queries()
    rec = assert_one_record(d, q, "cname", "target.test", "chains")
    assert rec["policy"] == events(d)[-1]["policy"], rec
    # And the other way round: unlisted again, the answer is served.
    (d.workdir / "lists" / "chains.domains").write_text("evil.test\n")
    reload(d)
    resp = d.udp(q, "A")
    assert rrsets_of(resp.answer) == {
        (q + ".", "CNAME"): ["target.test."],
        ("target.test.", "A"): ["192.0.2.200"]}, resp
    assert len(records(d, q, timeout=0.2)) == 1


# ---- answer addresses ----------------------------------------------------

@pytest.mark.parametrize("qname,rdtype,ip,rule", [
    ("i1.a-192-0-2-7.test", "A", "192.0.2.7", "192.0.2.0/24"),
    ("i2.a-192-0-2-127.test", "A", "192.0.2.127", "192.0.2.0/24"),
    ("i3.a-198-51-100-7.test", "A", "198.51.100.7", "198.51.100.7"),
    ("i4.a-203-0-113-10.test", "A", "203.0.113.10",
     "203.0.113.10-203.0.113.20"),
    ("i5.a-203-0-113-20.test", "A", "203.0.113.20",
     "203.0.113.10-203.0.113.20"),
    ("i6.aaaa-2001-db8--7.test", "AAAA", "2001:db8::7", "2001:db8::/32"),
    ("i7.aaaa-2001-db8-ffff-ffff-ffff-ffff-ffff-ffff.test", "AAAA",
     "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db8::/32"),
    # IPv4-mapped IPv6 (::ffff:192.0.2.9) matches the IPv4 range.
    ("i8.aaaa---ffff-c000-209.test", "AAAA", "::ffff:192.0.2.9",
     "192.0.2.0/24"),
])
def test_answer_in_blocked_range(start_cordond, upstream, qname, rdtype, ip,
                                 rule):
    d = start_cordond(list_files=lists(chains=""))
    resp = d.udp(qname, rdtype, edns=0)
    assert_blocked(resp, "hostnets")
    assert upstream.count(qname, rdtype) == 1
    assert_one_record(d, qname, "ip", rule, "hostnets", answer_ip=ip,
                      category="offshore-hosting", qtype=rdtype)


@pytest.mark.parametrize("qname,rdtype,addr", [
    ("o1.a-192-0-2-200.test", "A", "192.0.2.200"),     # allow /25
    ("o2.a-192-0-2-128.test", "A", "192.0.2.128"),     # allow's first
    ("o3.a-198-51-100-8.test", "A", "198.51.100.8"),   # next to single
    ("o4.a-198-51-100-6.test", "A", "198.51.100.6"),
    ("o5.a-203-0-113-9.test", "A", "203.0.113.9"),     # before the range
    ("o6.a-203-0-113-21.test", "A", "203.0.113.21"),   # after the range
    ("o7.aaaa-2001-db8-1--5.test", "AAAA", "2001:db8:1::5"),  # allow /48
])
def test_answer_outside_blocked_ranges_passes(start_cordond, qname, rdtype,
                                              addr):
    d = start_cordond(list_files=lists(chains=""))
    resp = d.udp(qname, rdtype, edns=0)
    assert rrsets_of(resp.answer) == {(qname + ".", rdtype): [addr]}, resp
    assert not ede_list(resp)
    assert records(d, qname, timeout=0.2) == []


def test_one_blocked_address_among_several_blocks_the_answer(start_cordond,
                                                             canned):
    up = canned(CANNED)
    d = start_cordond(list_files=lists(chains=""), servers=up.server)
    assert_blocked(d.udp("multi.test", "A", edns=0), "hostnets")
    assert_one_record(d, "multi.test", "ip", "198.51.100.7", "hostnets",
                      answer_ip="198.51.100.7")
    assert_blocked(d.udp("multi6.test", "AAAA", edns=0), "hostnets")
    assert_one_record(d, "multi6.test", "ip", "2001:db8::/32", "hostnets",
                      answer_ip="2001:db8:2::5", qtype="AAAA")
    resp = d.udp("fine.test", "A")
    assert rrsets_of(resp.answer) == {
        ("fine.test.", "A"): ["192.0.2.129", "192.0.2.200"]}, resp


def test_check_answer_ips_off_answers_normally(start_cordond):
    d = start_cordond({"policy": {"check_answer_ips": "no"}},
                      list_files=lists())
    for q, rdtype, addr in (("n1.a-192-0-2-7.test", "A", "192.0.2.7"),
                            ("n2.aaaa-2001-db8--7.test", "AAAA",
                             "2001:db8::7")):
        resp = d.udp(q, rdtype, edns=0)
        assert rrsets_of(resp.answer) == {(q + ".", rdtype): [addr]}, resp
        assert records(d, q, timeout=0.2) == []
    # The CNAME check still works.
    assert_blocked(d.udp("n3.cname.test", "A", edns=0), "chains")


def test_cached_address_answer_is_judged_by_policy_in_force(start_cordond,
                                                            upstream):
    d = start_cordond(list_files=lists(chains="", hostnets="198.51.100.7\n"))
    q = "r1.a-203-0-113-15.test"
    assert rcode_text(d.udp(q, "A")) == "NOERROR"
    assert upstream.count(q) == 1
    (d.workdir / "lists" / "hostnets.cidr").write_text(HOSTNETS)
    reload(d)
    assert_blocked(d.udp(q, "A", edns=0), "hostnets")
    assert upstream.count(q) == 1, upstream.queries()
    assert_one_record(d, q, "ip", "203.0.113.10-203.0.113.20", "hostnets",
                      answer_ip="203.0.113.15")


# ---- metrics -------------------------------------------------------------

def test_blocked_total_counts_cname_and_ip(start_cordond):
    mport = free_port()
    d = start_cordond({"control": {"http": "127.0.0.1:%d" % mport}},
                      list_files=lists())
    cname = 'cordon_blocked_total{list="chains",trigger="cname"}'
    ip = 'cordon_blocked_total{list="hostnets",trigger="ip"}'
    assert rcode_text(d.udp("m1.cname.test", "A")) == "NXDOMAIN"
    assert rcode_text(d.udp("m2.cname.test", "A")) == "NXDOMAIN"
    assert rcode_text(d.udp("m3.a-198-51-100-7.test", "A")) == "NXDOMAIN"
    # The counters must come to what the audit log says was blocked
    # (the daemon's own readiness probe, answered 192.0.2.1, included).
    for q in ("m1.cname.test", "m2.cname.test", "m3.a-198-51-100-7.test"):
        assert records(d, q), q
    recs = records(d, n=3)
    want = {cname: 0.0, ip: 0.0}
    for r in recs:
        key = 'cordon_blocked_total{list="%s",trigger="%s"}' % (
            r["list"], r["trigger"])
        want[key] = want.get(key, 0.0) + 1
    assert want[cname] == 2 and want[ip] >= 1, recs
    got = metrics_until(mport, want)
    assert {k: got.get(k) for k in want} == want


@pytest.mark.parametrize("rdtype,tag", [("MX", "q1"), ("TXT", "q2"),
                                        ("CNAME", "q3")])
def test_cname_check_covers_every_qtype(start_cordond, upstream, rdtype,
                                        tag):
    d = start_cordond(list_files=lists(hostnets=""))
    q = "%s.cname.test" % tag
    assert_blocked(d.udp(q, rdtype, edns=0), "chains")
    assert upstream.count(q, rdtype) == 1
    assert_one_record(d, q, "cname", "target.test", "chains", qtype=rdtype)


def test_reload_applies_changed_check_cname(start_cordond):
    """A reload re-reads cordon.conf; a [policy] switch changed there
    applies, or the daemon says that it needs a restart."""
    d = start_cordond(list_files=lists(hostnets=""))
    assert_blocked(d.udp("s1.cname.test", "A", edns=0), "chains")
    seen = len(d.errfile.read_bytes())
    text = d.conf.read_text()
    d.conf.write_text(text.replace("[policy]\n",
                                   "[policy]\ncheck_cname = no\n", 1))
    reload(d)
    resp = d.udp("s2.cname.test", "A")
    said = d.errfile.read_bytes()[seen:].decode(errors="replace")
    if rcode_text(resp) != "NOERROR":
        assert "check_cname" in said and "restart" in said, (
            "check_cname = no ignored at reload, silently: %s\n%s" % (
                rcode_text(resp), said))


def test_chain_in_answer_fetched_over_tcp_is_checked(start_cordond,
                                                     upstream):
    """An answer too big for UDP comes back truncated and is fetched again
    over TCP; that answer is inspected too."""
    d = start_cordond(list_files=lists(hostnets=""))
    q = "t1.big.cname.test"
    resp = d.tcp(q, "TXT", edns=0)
    assert_blocked(resp, "chains")
    assert ("t1.big.cname.test.", "TXT", "tcp") in upstream.queries(), (
        upstream.queries())
    assert_one_record(d, q, "cname", "target.test", "chains", qtype="TXT",
                      proto="tcp")
