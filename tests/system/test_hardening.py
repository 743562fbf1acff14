"""Hardening of the answer path (issue 8; PRODUCT.md "Answers"):
hostile upstream answers, DNSSEC header bits, RD=0, the TC rule, rate
limits, the per-client upstream cap, the audit flood guard, and a failed
start with several workers.  The upstream here is hostile_upstream.py,
started per module on a loopback port and stopped by PID."""

import json
import os
import resource
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

import dns.edns
import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdatatype
import pytest

import conftest
import helpers
from helpers import ede_list, make_query, udp_raw

HERE = Path(__file__).resolve().parent
HOSTILE = str(HERE / "hostile_upstream.py")
CD = 0x10
AD = 0x20
RA = 0x80


class Hostile:
    def __init__(self, workdir):
        self.port = conftest.free_port()
        self.log = Path(workdir) / "hostile.log"
        self.err = Path(workdir) / "hostile.stderr"
        self.label = "hostile upstream"
        with open(self.err, "wb") as err:
            self.proc = subprocess.Popen(
                [conftest.PYTHON, HOSTILE, "--port", str(self.port),
                 "--log", str(self.log)], stdout=subprocess.PIPE,
                stderr=err, stdin=subprocess.DEVNULL)
        line = self.proc.stdout.readline()
        assert line.startswith(b"ready"), self.output()
        self.server = "127.0.0.1:%d" % self.port

    def lines(self, word=None):
        try:
            text = self.log.read_text()
        except FileNotFoundError:
            return []
        return [ln for ln in text.splitlines()
                if word is None or word in ln.split()[0]]

    def output(self):
        return conftest.tail(self.err)

    def stop(self):
        conftest.stop_pid(self.proc)
        self.proc.stdout.close()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    h = Hostile(tmp_path_factory.mktemp("hostile"))
    yield h
    h.stop()


@pytest.fixture
def daemon(start_cordond, hostile, request):
    def start(overrides=None, **kw):
        ov = {"upstream": {"servers": hostile.server}}
        for section, keys in (overrides or {}).items():
            ov.setdefault(section, {}).update(keys)
        return start_cordond(ov, **kw)
    request.node.cordon_procs = getattr(request.node, "cordon_procs", [])
    request.node.cordon_procs.append(hostile)
    return start


def strict(wire):
    """Parses wire as dnspython does by default: trailing bytes, bad
    pointers and short records all raise."""
    return dns.message.from_wire(wire)


def flags_of(wire):
    return struct.unpack("!H", wire[2:4])[0]


# ---- hostile upstream answers (../shared/fuzz-findings 1 and 4) ----

def test_question_given_as_pointer_is_rejected_not_cached(daemon):
    d = daemon()
    for _ in range(2):
        q = make_query("x1.qptr.test", "A", edns=0)
        data = udp_raw(d.port, q.to_wire(), timeout=3)
        assert data is not None
        resp = strict(data)
        assert resp.rcode() == dns.rcode.SERVFAIL
        assert resp.answer == []
        assert helpers.question_bytes(data) == helpers.question_bytes(
            q.to_wire())


@pytest.mark.parametrize("edns", [None, 0])
def test_trailing_bytes_after_the_last_record_are_cut(daemon, edns):
    d = daemon()
    name = "x2-%s.trail.test" % edns
    for _ in range(2):          # fresh, then from the cache
        data = udp_raw(d.port, make_query(name, "A", edns=edns).to_wire())
        resp = strict(data)
        assert resp.rcode() == dns.rcode.NOERROR
        assert [rd.to_text() for rr in resp.answer for rd in rr] == [
            "192.0.2.1"]
        assert (resp.edns >= 0) == (edns is not None)


def test_opt_before_other_additional_records(daemon):
    d = daemon()
    for _ in range(2):
        data = udp_raw(d.port, make_query("x3.optmid.test", "A",
                                          edns=0).to_wire())
        resp = strict(data)
        assert resp.edns == 0
        assert [rd.to_text() for rr in resp.answer for rd in rr] == [
            "192.0.2.1"]


# ---- DNSSEC bits ----

def test_ad_from_upstream_cleared_unless_trusted(daemon):
    d = daemon()
    for kw in ({"edns": 0, "do": True}, {}):
        data = udp_raw(d.port, make_query("x4.adflag.test", "A",
                                          **kw).to_wire())
        assert not flags_of(data) & AD, kw


def test_ad_passed_on_with_trust_ad_to_clients_that_ask(daemon):
    d = daemon({"upstream": {"trust_ad": "yes"}})
    data = udp_raw(d.port, make_query("x5.adflag.test", "A", edns=0,
                                      do=True).to_wire())
    assert flags_of(data) & AD
    q = make_query("x5.adflag.test", "A")
    q.flags |= dns.flags.AD
    assert flags_of(udp_raw(d.port, q.to_wire())) & AD
    # Neither AD nor DO: RFC 6840 5.8 says leave it clear.
    data = udp_raw(d.port, make_query("x5.adflag.test", "A").to_wire())
    assert not flags_of(data) & AD


def with_cd(q):
    q.flags |= dns.flags.CD
    return q


def test_cd_goes_upstream_and_keys_the_cache(daemon, hostile):
    d = daemon()
    name = "x6.cdecho.test"
    got = {}
    for cd in (True, False, True, False):
        q = make_query(name, "TXT", edns=0)
        if cd:
            with_cd(q)
        data = udp_raw(d.port, q.to_wire())
        assert bool(flags_of(data) & CD) == cd, "CD copied into the answer"
        got.setdefault(cd, set()).add(
            strict(data).answer[0][0].to_text())
    assert got == {True: {'"cd=1"'}, False: {'"cd=0"'}}
    # one upstream query per CD value: the second pair came from cache
    assert len(hostile.lines(name)) == 2


def test_cd_copied_into_answers_cordond_makes(daemon):
    d = daemon()
    # blocked
    data = udp_raw(d.port, with_cd(make_query("www.binance.com", "A",
                                              edns=0)).to_wire())
    assert strict(data).rcode() == dns.rcode.NXDOMAIN
    assert flags_of(data) & CD
    # SERVFAIL (upstream refuses)
    data = udp_raw(d.port, with_cd(make_query("x7.refused.test",
                                              "A")).to_wire(), timeout=3)
    assert strict(data).rcode() == dns.rcode.SERVFAIL
    assert flags_of(data) & CD
    # BADVERS
    data = udp_raw(d.port, with_cd(make_query("x7.test", "A",
                                              edns=1)).to_wire())
    assert strict(data).rcode() == dns.rcode.BADVERS
    assert flags_of(data) & CD
    # FORMERR: two questions
    wire = bytearray(with_cd(make_query("x7.test", "A")).to_wire())
    wire[4:6] = b"\x00\x02"
    data = udp_raw(d.port, bytes(wire))
    assert flags_of(data) & 0xF == dns.rcode.FORMERR
    assert flags_of(data) & CD
    # NOTIMP for opcode STATUS: CD copied, RA clear (RFC 8906 3.1.3)
    q = with_cd(make_query("x7.test", "A"))
    q.set_opcode(dns.opcode.STATUS)
    data = udp_raw(d.port, q.to_wire())
    assert flags_of(data) & 0xF == dns.rcode.NOTIMP
    assert flags_of(data) & CD
    assert not flags_of(data) & RA


def test_cd_on_acl_refusal(daemon):
    d = daemon({"server": {"allow": "10.0.0.0/8"}})
    data = udp_raw(d.port, with_cd(make_query("x8.test", "A")).to_wire())
    assert flags_of(data) & 0xF == dns.rcode.REFUSED
    assert flags_of(data) & CD


# ---- RD=0 ----

def test_rd0_refused_without_allow_snoop(daemon, hostile):
    d = daemon()
    d.udp("x9.rd.test")                       # now in the cache
    before = len(hostile.lines("x9.rd.test"))
    resp = d.udp("x9.rd.test", rd=False, edns=0)
    assert resp.rcode() == dns.rcode.REFUSED
    assert [c for c, _ in ede_list(resp)] == [20]
    resp = d.udp("x9b.rd.test", rd=False, edns=0)
    assert resp.rcode() == dns.rcode.REFUSED
    assert len(hostile.lines("x9")) == before, "RD=0 never forwarded"


def test_rd0_answered_from_cache_for_allow_snoop(daemon, hostile):
    d = daemon({"server": {"allow_snoop": "127.0.0.1/32"}})
    d.udp("x10.rd.test")
    resp = d.udp("x10.rd.test", rd=False)
    assert resp.rcode() == dns.rcode.NOERROR
    assert not resp.flags & dns.flags.RD
    assert [rd.to_text() for rr in resp.answer for rd in rr] == [
        "192.0.2.1"]
    resp = d.udp("x10-miss.rd.test", rd=False, edns=0)
    assert resp.rcode() == dns.rcode.REFUSED
    assert [c for c, _ in ede_list(resp)] == [20]
    assert hostile.lines("x10-miss") == []


# ---- TC only when what is needed does not fit ----

def test_optional_additional_records_dropped_before_tc(daemon):
    d = daemon()
    data = udp_raw(d.port, make_query("x11.glue.test", "A").to_wire())
    resp = strict(data)
    assert len(data) <= 512
    assert not resp.flags & dns.flags.TC
    assert [rd.to_text() for rr in resp.answer for rd in rr] == [
        "192.0.2.1"]
    assert resp.additional == []
    # over TCP the whole answer, glue included
    resp = d.tcp("x11.glue.test", "A")
    assert sum(len(rr) for rr in resp.additional) == 40


def test_tc_when_the_answer_itself_does_not_fit(daemon):
    d = daemon()
    d.tcp("x12.huge.test", "A")
    data = udp_raw(d.port, make_query("x12.huge.test", "A").to_wire())
    resp = strict(data)
    assert resp.flags & dns.flags.TC
    assert resp.answer == [] and resp.additional == []


# ---- counters ----

def test_badvers_counted_as_badvers(daemon):
    mport = conftest.free_port()
    d = daemon({"control": {"http": "127.0.0.1:%d" % mport}})
    for _ in range(3):
        d.udp("x13.test", edns=1)
    m = helpers.metrics_until(mport, {
        'cordon_answers_total{rcode="BADVERS"}': 3})
    assert m['cordon_answers_total{rcode="BADVERS"}'] == 3


# ---- abuse ----

def blast(port, wires, src="127.0.0.1", wait=1.0):
    """Sends every wire from one socket bound to src, as fast as it can,
    then collects answers for `wait` seconds.  Returns the answers."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    try:
        for w in wires:
            s.sendto(w, ("127.0.0.1", port))
        out = []
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                out.append(s.recv(65535))
            except socket.timeout:
                break
        return out
    finally:
        s.close()


def test_ratelimit_limits_one_prefix_and_slips(daemon):
    mport = conftest.free_port()
    d = daemon({"server": {"ratelimit": "50", "slip": "2"},
                "control": {"http": "127.0.0.1:%d" % mport}})
    time.sleep(1.1)                 # the readiness probes' second is over
    wires = [make_query("x14.test", "A", qid=i).to_wire()
             for i in range(400)]
    t0 = time.monotonic()
    got = blast(d.port, wires)
    sent_for = time.monotonic() - t0 - 1.0
    full = [g for g in got if not flags_of(g) & 0x0200]
    tc = [g for g in got if flags_of(g) & 0x0200]
    seconds = int(sent_for) + 2     # windows the burst can touch
    assert 0 < len(full) <= 50 * seconds, (len(full), sent_for)
    assert len(tc) > 0
    limited = 400 - len(full)
    assert abs(len(tc) - limited / 2) <= 2 * seconds
    for g in tc:
        r = strict(g)
        assert r.answer == [] and r.id in range(400)
    # another /24 is not touched
    other = blast(d.port, [make_query("x14.test", "A", qid=i).to_wire()
                           for i in range(30)], src="127.0.1.1", wait=0.5)
    assert len(other) == 30
    assert all(not flags_of(g) & 0x0200 for g in other)
    m = helpers.metrics_until(mport, {
        'cordon_ratelimited_total{result="slipped"}': len(tc)})
    assert m['cordon_ratelimited_total{result="dropped"}'] + len(tc) == \
        limited


def test_client_inflight_cap(daemon):
    d = daemon({"server": {"client_inflight": "3"},
                "upstream": {"timeout": "1500ms"}})
    wires = [make_query("x15-%d.silent.test" % i, "A", edns=0,
                        qid=i).to_wire() for i in range(8)]
    got = blast(d.port, wires, wait=0.5)
    assert len(got) == 5, "5 answered at once, 3 wait on the upstream"
    for g in got:
        r = strict(g)
        assert r.rcode() == dns.rcode.SERVFAIL
        assert ede_list(r) and "too many" in ede_list(r)[0][1]
    # another client is served meanwhile
    other = blast(d.port, [make_query("x15.test", "A").to_wire()],
                  src="127.0.1.1", wait=1.0)
    assert len(other) == 1 and strict(other[0]).rcode() == 0


def test_audit_flood_folded_into_suppressed_events(daemon):
    d = daemon({"log": {"client_rate": "5"}})
    audit = d.audit
    base = len(audit.read_text().splitlines()) if audit.exists() else 0
    time.sleep(1 - time.time() % 1 + 0.05)   # start of a second
    wires = [make_query("www.binance.com", "A", qid=i).to_wire()
             for i in range(40)]
    got = blast(d.port, wires, wait=0.5)
    assert len(got) == 40, "every query is still answered"
    time.sleep(2.2)                           # the sweep reports
    lines = [json.loads(x) for x in audit.read_text().splitlines()[base:]]
    blocked = [x for x in lines if "event" not in x]
    supp = [x for x in lines if x.get("event") == "suppressed"]
    assert 5 <= len(blocked) <= 10
    assert supp and all(x["client"] == "127.0.0.1" for x in supp)
    assert len(blocked) + sum(x["count"] for x in supp) == 40
    r = subprocess.run([conftest.CORDON, "audit", "verify", str(audit)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


# ---- a failed start with several workers ----

def test_failed_worker_setup_exits_cleanly(tmp_path, hostile):
    port = conftest.free_port()
    conf = conftest.build_conf(tmp_path, port, hostile.server,
                               {"server": {"threads": "8"}})

    def few_fds():
        resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40))

    r = subprocess.run([conftest.CORDOND, "-f", "-c", str(conf)],
                       capture_output=True, text=True, timeout=20,
                       preexec_fn=few_fds)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "worker" in r.stderr or "Too many open files" in r.stderr, \
        r.stderr
    assert "AddressSanitizer" not in r.stderr
