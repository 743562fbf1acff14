"""DNSSEC through cordond, against real signed zones (PRODUCT.md,
"Answers": "DNSSEC: DO and CD go upstream and are part of the cache key;
CD is copied into every answer; AD from the upstream reaches clients only
with `[upstream] trust_ad = yes`.  Queries with RD=0 are answered from the
cache for clients in `[server] allow_snoop` and REFUSED for the others.
Optional additional records are dropped before TC is set.").

At module start (authserver.py): example.test. (NSEC) and nsec3.test.
(NSEC3) are generated, keyed with ldns-keygen (ECDSAP256SHA256 KSK+ZSK)
and signed with ldns-signzone; bogus.example.test.'s A record is changed
after signing.  NSD serves them on a loopback port; a validating Unbound
(trust anchors: the zones' DS) in front of NSD is the upstream that sets
AD; cdstub.py answers CD=0 and CD=1 queries differently and logs them.
cordond forwards with RD; NSD, authoritative, answers anyway.

Run: cd tests/system && /usr/bin/python3 -m pytest test_dnssec.py
(needs nsd, unbound, ldnsutils (ldns-keygen, ldns-signzone, drill) and
bind9-dnsutils (delv); about 20 s).
"""

import subprocess
from pathlib import Path

import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdatatype
import pytest

import authserver
from authserver import nsd, validator, zones  # noqa: F401 (fixtures)
import helpers
from conftest import PYTHON, free_port, stop_pid, tail
from helpers import make_query, rcode_text, udp_query, udp_raw, tcp_query

HERE = Path(__file__).resolve().parent
DRILL = "/usr/bin/drill"
DELV = "/usr/bin/delv"
CD, AD, RA, RD, AA, TC = (dns.flags.CD, dns.flags.AD, dns.flags.RA,
                          dns.flags.RD, dns.flags.AA, dns.flags.TC)


# ---------------------------------------------------------------- fixtures

class CdStub:
    label = "cdstub"

    def __init__(self, workdir):
        self.port = free_port()
        self.log = Path(workdir) / "cdstub-queries.log"
        self.errfile = Path(workdir) / "cdstub.stderr"
        with open(self.errfile, "wb") as err:
            self.proc = subprocess.Popen(
                [PYTHON, str(HERE / "cdstub.py"), "--port", str(self.port),
                 "--log", str(self.log)], stdout=subprocess.PIPE,
                stderr=err, stdin=subprocess.DEVNULL)
        line = self.proc.stdout.readline()     # "ready PORT" or EOF
        if not line.startswith(b"ready"):
            stop_pid(self.proc)
            pytest.fail("cdstub did not start:\n" + tail(self.errfile),
                        pytrace=False)

    @property
    def server(self):
        return "127.0.0.1:%d" % self.port

    def lines(self, qname):
        want = qname.lower().rstrip(".") + ". "
        try:
            text = self.log.read_text()
        except FileNotFoundError:
            return []
        return sorted(ln for ln in text.splitlines() if ln.startswith(want))

    def stop(self):
        stop_pid(self.proc)
        self.proc.stdout.close()

    def output(self):
        return tail(self.errfile)


@pytest.fixture(scope="module")
def cdstub(tmp_path_factory):
    s = CdStub(tmp_path_factory.mktemp("cdstub"))
    yield s
    s.stop()


@pytest.fixture
def via_nsd(start_cordond, nsd):
    """cordond (default configuration) forwarding to the NSD."""
    return start_cordond(servers=nsd.server)


# ----------------------------------------------------------------- helpers

def query(qname, rdtype="A", *, edns=0, do=False, cd=False, ad=False,
          rd=True, payload=1232):
    q = make_query(qname, rdtype, edns=edns, do=do, rd=rd, payload=payload)
    if cd:
        q.flags |= CD
    if ad:
        q.flags |= AD
    return q


def ask(port, q, timeout=3.0):
    return udp_query(port, q, timeout=timeout)


def types_in(section):
    return sorted((str(r.name).lower(), dns.rdatatype.to_text(r.rdtype),
                   dns.rdatatype.to_text(r.covers)
                   if r.rdtype == dns.rdatatype.RRSIG else "")
                  for r in section)


def full(section):
    """Every RRset with its rdata as text (signatures included), TTLs
    ignored: what must pass through unchanged."""
    return sorted((str(r.name).lower(), dns.rdatatype.to_text(r.rdtype),
                   dns.rdatatype.to_text(r.covers),
                   tuple(sorted(rd.to_text() for rd in r)))
                  for r in section)


def has_rrsig(resp):
    return any(r.rdtype == dns.rdatatype.RRSIG
               for s in (resp.answer, resp.authority, resp.additional)
               for r in s)


def denial_types(resp):
    return {dns.rdatatype.to_text(r.rdtype) for r in resp.authority}


def flag_text(resp):
    return dns.flags.to_text(resp.flags)


# ------------------------------------------------- RRSIGs and denial proofs

SIGNED_ANSWERS = [
    ("www.example.test", "A"),
    ("www.example.test", "AAAA"),
    ("www.example.test", "TXT"),
    ("example.test", "MX"),
    ("alias.example.test", "A"),        # CNAME + A, each with its RRSIG
    ("chain.example.test", "AAAA"),
    ("x.wild.example.test", "TXT"),     # wildcard: RRSIG labels < owner
    ("www.nsec3.test", "A"),
    ("nsec3.test", "MX"),
    ("example.test", "DNSKEY"),
]


@pytest.mark.parametrize("qname,rdtype", SIGNED_ANSWERS)
def test_do_answer_has_rrsigs_as_the_upstream_sent_them(via_nsd, nsd,
                                                        qname, rdtype):
    direct = ask(nsd.port, query(qname, rdtype, do=True))
    assert rcode_text(direct) == "NOERROR" and has_rrsig(direct)
    for attempt in ("fresh", "cached"):
        resp = ask(via_nsd.port, query(qname, rdtype, do=True))
        assert rcode_text(resp) == "NOERROR", (attempt, resp)
        assert resp.ednsflags & dns.flags.DO, attempt
        covered = {dns.rdatatype.to_text(r.covers) for r in resp.answer
                   if r.rdtype == dns.rdatatype.RRSIG}
        plain = {dns.rdatatype.to_text(r.rdtype) for r in resp.answer
                 if r.rdtype != dns.rdatatype.RRSIG}
        assert plain and covered == plain, (attempt, resp)
        assert full(resp.answer) == full(direct.answer), attempt


DENIALS = [
    # qname, qtype, rcode, the denial record type expected in authority
    ("nx.example.test", "A", "NXDOMAIN", "NSEC"),
    ("www.example.test", "SRV", "NOERROR", "NSEC"),     # NODATA
    ("y.wild.example.test", "MX", "NOERROR", "NSEC"),   # wildcard NODATA
    ("nx.nsec3.test", "A", "NXDOMAIN", "NSEC3"),
    ("www.nsec3.test", "SRV", "NOERROR", "NSEC3"),
]


@pytest.mark.parametrize("qname,rdtype,rcode,kind", DENIALS)
def test_denial_with_do_carries_signed_proof(via_nsd, nsd, qname, rdtype,
                                             rcode, kind):
    direct = ask(nsd.port, query(qname, rdtype, do=True))
    assert rcode_text(direct) == rcode and kind in denial_types(direct)
    for attempt in ("fresh", "cached"):
        resp = ask(via_nsd.port, query(qname, rdtype, do=True))
        assert rcode_text(resp) == rcode, (attempt, resp)
        assert not resp.answer, (attempt, resp)
        got = types_in(resp.authority)
        assert any(t[1] == kind for t in got), (attempt, got)
        assert any(t[1] == "RRSIG" and t[2] == kind for t in got), got
        assert any(t[1] == "RRSIG" and t[2] == "SOA" for t in got), got
        assert full(resp.authority) == full(direct.authority), attempt


NO_DO = SIGNED_ANSWERS[:5] + [(q, t) for q, t, _, _ in DENIALS]


@pytest.mark.parametrize("order", ["do-first", "plain-first"])
def test_no_rrsig_without_do_even_when_a_do_answer_is_cached(via_nsd,
                                                             order):
    for qname, rdtype in NO_DO:
        steps = [True, False, None] if order == "do-first" else \
            [False, None, True]
        for do in steps:
            q = query(qname, rdtype, edns=None if do is None else 0,
                      do=bool(do))
            resp = ask(via_nsd.port, q)
            if do:
                assert has_rrsig(resp), (qname, rdtype, resp)
                continue
            assert not has_rrsig(resp), (qname, rdtype, do, resp)
            assert not {"NSEC", "NSEC3"} & denial_types(resp), (
                qname, rdtype, resp)
            if rdtype != "DNSKEY":
                assert resp.answer or resp.authority, resp


# ------------------------------------------------------------------ CD bit

def test_cd_is_copied_into_forwarded_answers(via_nsd):
    for cd in (True, False, True):
        resp = ask(via_nsd.port, query("www.example.test", "A", do=True,
                                       cd=cd))
        assert rcode_text(resp) == "NOERROR"
        assert bool(resp.flags & CD) == cd, (cd, flag_text(resp))


def test_cd_reaches_the_upstream(start_cordond, cdstub):
    d = start_cordond(servers=cdstub.server)
    resp = ask(d.port, query("cd-up.example.test", cd=True))
    assert [r.to_text() for r in resp.answer[0]] == ["192.0.2.201"], resp
    assert resp.flags & CD
    assert cdstub.lines("cd-up.example.test") == [
        "cd-up.example.test. A cd=1"]


def test_bogus_with_cd_is_passed_through_not_servfail(via_nsd):
    for _ in range(2):                  # fresh, then from the cache
        resp = ask(via_nsd.port, query(authserver.BOGUS, do=True, cd=True))
        assert rcode_text(resp) == "NOERROR", resp
        assert resp.flags & CD
        assert helpers.rrsets_of(resp.answer)[
            (authserver.BOGUS, "A")] == [authserver.BOGUS_SERVED_A]


@pytest.mark.parametrize("first", [False, True])
def test_cache_keyed_on_cd_stub(start_cordond, cdstub, first):
    """cdstub answers .200 without CD and .201 with CD: each client gets
    its own, and exactly one upstream query per CD variant."""
    d = start_cordond(servers=cdstub.server)
    name = "cdkey-%d.example.test" % int(first)
    for cd in (first, not first, first, not first):
        resp = ask(d.port, query(name, cd=cd))
        assert rcode_text(resp) == "NOERROR"
        assert [r.to_text() for r in resp.answer[0]] == [
            cdstub_answer(cd)], (cd, resp)
        assert bool(resp.flags & CD) == cd
    assert cdstub.lines(name) == ["%s. A cd=0" % name, "%s. A cd=1" % name]


def cdstub_answer(cd):
    return "192.0.2.201" if cd else "192.0.2.200"


@pytest.mark.parametrize("first_cd", [True, False])
def test_cache_keyed_on_cd_validating_upstream(start_cordond, validator,
                                               first_cd):
    """Behind a validator, bogus data is SERVFAIL for CD=0 and the data
    for CD=1; whichever came first, the other client gets its own."""
    d = start_cordond(servers=validator.server)
    for cd in (first_cd, not first_cd, first_cd):
        resp = ask(d.port, query(authserver.BOGUS, do=True, cd=cd))
        if cd:
            assert rcode_text(resp) == "NOERROR", resp
            assert resp.answer, resp
        else:
            assert rcode_text(resp) == "SERVFAIL", resp
            assert not resp.answer, resp


# ------------------------------------------------------------------ AD bit

def test_validator_sets_ad(validator):
    """The precondition of the AD tests: the upstream does set AD."""
    for q in (query("www.example.test", do=True),
              query("www.example.test", ad=True)):
        assert ask(validator.port, q).flags & AD


@pytest.mark.parametrize("how", ["do", "ad", "do+ad"])
def test_ad_cleared_by_default(start_cordond, validator, how):
    d = start_cordond(servers=validator.server)
    for qname in ("www.example.test", "nx.example.test", "www.nsec3.test"):
        for _ in range(2):
            resp = ask(d.port, query(qname, do="do" in how,
                                     ad="ad" in how))
            assert rcode_text(resp) in ("NOERROR", "NXDOMAIN")
            assert not resp.flags & AD, (qname, how, flag_text(resp))


@pytest.mark.parametrize("how", ["do", "ad", "do+ad"])
def test_ad_passed_with_trust_ad(start_cordond, validator, how):
    d = start_cordond({"upstream": {"trust_ad": "yes"}},
                      servers=validator.server)
    for qname in ("www.example.test", "nx.example.test", "www.nsec3.test"):
        for attempt in ("fresh", "cached"):
            resp = ask(d.port, query(qname, do="do" in how,
                                     ad="ad" in how))
            assert resp.flags & AD, (qname, how, attempt, flag_text(resp))


def test_trust_ad_not_set_for_clients_that_asked_neither(start_cordond,
                                                         validator):
    """RFC 6840 5.8: AD only to clients that set AD or DO (what Unbound
    does), even when an AD answer is cached."""
    d = start_cordond({"upstream": {"trust_ad": "yes"}},
                      servers=validator.server)
    assert ask(d.port, query("mail.example.test", do=True)).flags & AD
    for edns in (None, 0):
        resp = ask(d.port, query("mail.example.test", edns=edns))
        assert rcode_text(resp) == "NOERROR"
        assert not resp.flags & AD, (edns, flag_text(resp))


def test_trust_ad_does_not_make_up_ad(start_cordond, nsd):
    """NSD (authoritative) never sets AD; trust_ad passes, not sets."""
    d = start_cordond({"upstream": {"trust_ad": "yes"}}, servers=nsd.server)
    resp = ask(d.port, query("www.example.test", do=True, ad=True))
    assert rcode_text(resp) == "NOERROR"
    assert not resp.flags & AD


# ------------------------------------- end-to-end validation through cordond

GOOD_CHASES = [
    ("example", "www.example.test", "A"),
    ("example", "alias.example.test", "A"),
    ("example", "example.test", "MX"),
    ("example", "nx.example.test", "A"),
    ("example", "www.example.test", "SRV"),
    ("nsec3", "www.nsec3.test", "TXT"),
    ("nsec3", "nx.nsec3.test", "A"),
]


def zone_of(zones, which):
    return zones.nsec if which == "example" else zones.nsec3


def drill(port, zone, qname, rdtype):
    r = subprocess.run([DRILL, "-S", "-k", str(zone.ksk_key), "-p",
                        str(port), "@127.0.0.1", qname, rdtype],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=20)
    return r.returncode, r.stdout.decode(errors="replace")


def delv(port, anchor, zone, qname, rdtype):
    r = subprocess.run([DELV, "@127.0.0.1", "-p", str(port), "-a",
                        str(anchor), "+root=" + zone.origin.rstrip("."),
                        qname, rdtype], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=20)
    return r.returncode, r.stdout.decode(errors="replace")


@pytest.mark.parametrize("which,qname,rdtype", GOOD_CHASES)
def test_drill_chase_succeeds_through_cordond(via_nsd, zones, which, qname,
                                              rdtype):
    rc, out = drill(via_nsd.port, zone_of(zones, which), qname, rdtype)
    assert rc == 0 and "Chase successful" in out, out


def test_drill_chase_fails_for_bogus_through_cordond(via_nsd, zones):
    rc, out = drill(via_nsd.port, zones.nsec, authserver.BOGUS, "A")
    assert rc != 0, out
    assert "Bogus DNSSEC signature" in out and "Chase failed" in out, out


def test_drill_chase_fails_with_the_wrong_anchor(via_nsd, zones):
    """The chase really checks the anchor (else the tests above prove
    nothing): example.test with nsec3.test's key fails."""
    rc, out = drill(via_nsd.port, zones.nsec3, "www.example.test", "A")
    assert rc != 0 and "Chase successful" not in out, out


@pytest.mark.parametrize("which,qname,rdtype", [
    g for g in GOOD_CHASES if g[2] in ("A", "MX", "TXT")
    and not g[1].startswith("nx.")])
def test_delv_fully_validates_through_cordond(via_nsd, zones, which, qname,
                                              rdtype):
    zone = zone_of(zones, which)
    rc, out = delv(via_nsd.port, zones.delv_anchor(zone), zone, qname,
                   rdtype)
    assert rc == 0 and "; fully validated" in out, out


def test_delv_reports_bogus_through_cordond(via_nsd, zones):
    rc, out = delv(via_nsd.port, zones.delv_anchor(zones.nsec), zones.nsec,
                   authserver.BOGUS, "A")
    assert "fully validated" not in out, out
    assert "resolution failed" in out or rc != 0, out


# ------------------------------------------- CD in the answers cordond makes

BLOCKED = "blocked.example.test"


@pytest.mark.parametrize("action,rcode", [("nxdomain", "NXDOMAIN"),
                                          ("nodata", "NOERROR"),
                                          ("refused", "REFUSED"),
                                          ("sinkhole", "NOERROR")])
def test_blocked_answer_copies_cd(start_cordond, nsd, action, rcode):
    d = start_cordond({"policy": {"action": action}},
                      list_files={"exchanges.domains":
                                  helpers.EXCHANGES + BLOCKED + "\n"},
                      servers=nsd.server)
    for cd in (True, False, True):
        for edns in (None, 0):
            resp = ask(d.port, query("www." + BLOCKED, edns=edns, do=True
                                     if edns == 0 else False, cd=cd))
            assert rcode_text(resp) == rcode, resp
            assert bool(resp.flags & CD) == cd, (action, cd, edns,
                                                 flag_text(resp))
            assert not resp.flags & AD


def test_servfail_copies_cd(start_cordond):
    dead = free_port()          # nothing listens there
    d = start_cordond({"upstream": {"timeout": "300ms"}},
                      servers="127.0.0.1:%d" % dead)
    for cd in (True, False):
        for edns in (None, 0):
            resp = ask(d.port, query("www.example.test", edns=edns, cd=cd))
            assert rcode_text(resp) == "SERVFAIL", resp
            assert bool(resp.flags & CD) == cd, (cd, edns, flag_text(resp))


def test_refused_client_copies_cd(start_cordond, nsd):
    d = start_cordond({"server": {"allow": "192.0.2.0/24"}},
                      servers=nsd.server)
    for cd in (True, False):
        resp = ask(d.port, query("www.example.test", cd=cd))
        assert rcode_text(resp) == "REFUSED", resp
        assert bool(resp.flags & CD) == cd, (cd, flag_text(resp))


def raw_flags(data):
    return int.from_bytes(data[2:4], "big")


def formerr_wires():
    """Malformed queries with a readable header that has CD (and RD) set:
    QDCOUNT 2, QDCOUNT 0, and a question cut short."""
    base = bytearray(query("www.example.test", edns=None, cd=True)
                     .to_wire())
    two = bytes(base[:4]) + b"\x00\x02" + bytes(base[6:]) + bytes(base[12:])
    zero = bytes(base[:4]) + b"\x00\x00" + bytes(base[6:12])
    cut = bytes(base[:-3])
    return {"qdcount2": two, "qdcount0": zero, "cut-question": cut}


@pytest.mark.parametrize("case", ["qdcount2", "qdcount0", "cut-question"])
def test_formerr_copies_cd(via_nsd, case):
    wire = formerr_wires()[case]
    assert raw_flags(wire) & CD
    data = udp_raw(via_nsd.port, wire)
    assert data is not None, "no answer to %s" % case
    flags = raw_flags(data)
    assert data[:2] == wire[:2]
    assert flags & dns.flags.QR
    assert flags & 0xF == dns.rcode.FORMERR, flags & 0xF
    assert flags & CD, "%s: CD not copied (flags %#06x)" % (case, flags)
    assert flags & RD


def test_badvers_copies_cd(via_nsd):
    for cd in (True, False):
        resp = ask(via_nsd.port, query("www.example.test", edns=1, cd=cd))
        assert resp.rcode() == dns.rcode.BADVERS
        assert bool(resp.flags & CD) == cd, (cd, flag_text(resp))


@pytest.mark.parametrize("opcode", [dns.opcode.STATUS, dns.opcode.UPDATE])
@pytest.mark.parametrize("edns", [None, 0])
def test_notimp_copies_cd_without_ra(via_nsd, opcode, edns):
    for cd in (True, False):
        q = query("www.example.test", edns=edns, cd=cd)
        q.set_opcode(opcode)
        wire = q.to_wire()
        data = udp_raw(via_nsd.port, wire)
        assert data is not None
        flags = raw_flags(data)
        assert flags & 0xF == dns.rcode.NOTIMP
        assert (flags >> 11) & 0xF == opcode
        assert bool(flags & CD) == cd, (opcode, cd, hex(flags))
        assert not flags & RA, "RA set on NOTIMP (%#06x)" % flags


# ---------------------------------------------------- RD=0 and TC handling

def test_rd0_refused_for_clients_not_in_allow_snoop(via_nsd, nsd):
    ask(via_nsd.port, query("www.example.test"))        # now cached
    for qname in ("www.example.test", "mail.example.test"):
        for cd in (False, True):
            resp = ask(via_nsd.port, query(qname, rd=False, cd=cd))
            assert rcode_text(resp) == "REFUSED", (qname, resp)
            assert not resp.flags & RD
            assert bool(resp.flags & CD) == cd


def test_rd0_answered_from_cache_for_snoopers(start_cordond, cdstub):
    d = start_cordond({"server": {"allow_snoop": "127.0.0.0/8"}},
                      servers=cdstub.server)
    name = "snoop.example.test"
    ask(d.port, query(name))
    resp = ask(d.port, query(name, rd=False))
    assert rcode_text(resp) == "NOERROR", resp
    assert [r.to_text() for r in resp.answer[0]] == ["192.0.2.200"]
    assert not resp.flags & RD
    # not cached: not fetched either
    resp = ask(d.port, query("unseen-" + name, rd=False))
    assert not resp.answer, resp
    assert cdstub.lines(name) == ["%s. A cd=0" % name]
    assert cdstub.lines("unseen-" + name) == []


def test_additional_dropped_before_tc(via_nsd, nsd):
    """multi.example.test MX with DO: answer + authority fit in 512
    octets, the signed glue in the additional section does not.  The
    answer must come whole without TC, the additional records dropped."""
    direct = tcp_query(nsd.port, query("multi.example.test", "MX", do=True))
    assert len(direct.to_wire()) > 512 and direct.additional
    direct.additional = []
    fits = len(direct.to_wire())        # answer, authority and OPT only
    assert fits <= 512, fits
    data = udp_raw(via_nsd.port, query("multi.example.test", "MX", do=True,
                                       payload=512).to_wire())
    assert data is not None and len(data) <= 512, data and len(data)
    resp = dns.message.from_wire(data)
    assert not resp.flags & TC, (
        "TC set (%d octets sent) though answer+authority+OPT take %d "
        "octets: %s" % (len(data), fits, resp))
    assert full(resp.answer) == full(direct.answer)
    assert resp.edns == 0
