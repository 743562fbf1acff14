"""Blocked answers for every action, EDE, and the header/question rules
every answer follows (PRODUCT.md, "Answers")."""

import dns.flags
import dns.message
import dns.name
import pytest

from helpers import (EDE_BLOCKED, ede_list, make_query, question_bytes,
                     rcode_text, rrsets_of, soa_of, udp_raw)


def test_nxdomain_action_has_soa_of_rule_with_policy_ttl(start_cordond,
                                                         upstream):
    d = start_cordond({"policy": {"action": "nxdomain", "ttl": "45s"}})
    resp = d.udp("www.binance.com", "A")
    assert rcode_text(resp) == "NXDOMAIN"
    assert not resp.answer
    soa = soa_of(resp)
    assert soa.name == dns.name.from_text("binance.com")
    assert soa.ttl == 45
    # resolvers cache the denial for min(SOA TTL, MINIMUM) (RFC 2308)
    assert soa[0].minimum >= 45
    assert upstream.count("www.binance.com") == 0


def test_default_policy_ttl_is_60s(cordond):
    soa = soa_of(cordond.udp("www.binance.com", "A"))
    assert soa.ttl == 60


def test_nodata_action(start_cordond):
    d = start_cordond({"policy": {"action": "nodata", "ttl": "30s"}})
    for rdtype in ("A", "AAAA", "TXT"):
        resp = d.udp("www.binance.com", rdtype)
        assert rcode_text(resp) == "NOERROR", rdtype
        assert not resp.answer, rdtype
        soa = soa_of(resp)
        assert soa.name == dns.name.from_text("binance.com")
        assert soa.ttl == 30


def test_refused_action(start_cordond, upstream):
    d = start_cordond({"policy": {"action": "refused"}})
    resp = d.udp("www.binance.com", "A")
    assert rcode_text(resp) == "REFUSED"
    assert not resp.answer
    assert upstream.count("www.binance.com") == 0


def test_sinkhole_action(start_cordond):
    d = start_cordond({"policy": {
        "action": "sinkhole", "sinkhole_a": "10.9.8.7",
        "sinkhole_aaaa": "fd00::99", "ttl": "20s"}})
    resp = d.udp("WWW.binance.com", "A")
    assert rcode_text(resp) == "NOERROR"
    assert rrsets_of(resp.answer) == {("www.binance.com.", "A"):
                                      ["10.9.8.7"]}
    assert resp.answer[0].ttl == 20
    resp = d.udp("www.binance.com", "AAAA")
    assert rrsets_of(resp.answer) == {("www.binance.com.", "AAAA"):
                                      ["fd00::99"]}
    resp = d.udp("www.binance.com", "MX")
    assert rcode_text(resp) == "NOERROR"
    assert not resp.answer
    assert soa_of(resp).ttl == 20


def test_sinkhole_defaults_to_unspecified_addresses(start_cordond):
    d = start_cordond({"policy": {"action": "sinkhole"}})
    assert rrsets_of(d.udp("binance.com", "A").answer) == {
        ("binance.com.", "A"): ["0.0.0.0"]}
    assert rrsets_of(d.udp("binance.com", "AAAA").answer) == {
        ("binance.com.", "AAAA"): ["::"]}


@pytest.mark.parametrize("action", ["nxdomain", "nodata", "refused",
                                    "sinkhole"])
def test_blocked_answer_carries_ede_blocked_with_list_name(start_cordond,
                                                           action):
    d = start_cordond({"policy": {"action": action}})
    resp = d.udp("bad.safe.example.com", "A", edns=0)
    assert resp.edns == 0
    edes = ede_list(resp)
    assert len(edes) == 1, edes
    code, text = edes[0]
    assert code == EDE_BLOCKED
    assert "ico" in text


@pytest.mark.parametrize("action", ["nxdomain", "sinkhole"])
def test_blocked_answer_without_edns_has_no_opt(start_cordond, action):
    d = start_cordond({"policy": {"action": action}})
    q = make_query("www.binance.com", "A")
    data = udp_raw(d.port, q.to_wire())
    assert data is not None
    # ARCOUNT: no OPT, nothing else in additional either
    assert data[10:12] == b"\x00\x00"
    resp = dns.message.from_wire(data)
    if action == "nxdomain":
        assert rcode_text(resp) == "NXDOMAIN"
    else:
        assert rrsets_of(resp.answer) == {("www.binance.com.", "A"):
                                          ["0.0.0.0"]}


QUESTION_CASES = [
    ("WwW.BiNaNcE.CoM", "A", "NXDOMAIN"),          # blocked
    ("WwW.ExAmPlE-fWd.TeSt", "A", "NOERROR"),      # forwarded
    ("MiXeD.nX.TeSt", "AAAA", "NXDOMAIN"),         # forwarded denial
]


@pytest.mark.parametrize("qname,rdtype,rcode", QUESTION_CASES)
def test_question_echoed_byte_for_byte(cordond, qname, rdtype, rcode):
    for edns in (None, 0, None):    # the last one from the cache
        q = make_query(qname, rdtype, edns=edns)
        wire = q.to_wire()
        data = udp_raw(cordond.port, wire)
        assert data is not None
        assert data[4:6] == b"\x00\x01", "QDCOUNT"
        assert question_bytes(data) == question_bytes(wire)
        assert rcode_text(dns.message.from_wire(data)) == rcode


def test_cached_answer_echoes_the_new_question_case(cordond, upstream):
    cordond.udp("www.echo-cache.test", "A")
    q = make_query("WWW.Echo-Cache.TEST", "A")
    data = udp_raw(cordond.port, q.to_wire())
    assert question_bytes(data) == question_bytes(q.to_wire())
    assert upstream.count("www.echo-cache.test") == 1


@pytest.mark.parametrize("qname", ["www.binance.com", "fwd.test"])
@pytest.mark.parametrize("rd", [True, False])
def test_header_id_rd_copied_qr_ra_set(cordond, qname, rd):
    for qid in (0, 0x1234, 0xFFFF):
        q = make_query(qname, "A", rd=rd, qid=qid)
        data = udp_raw(cordond.port, q.to_wire())
        assert data is not None
        assert data[0:2] == q.to_wire()[0:2], "ID"
        flags = int.from_bytes(data[2:4], "big")
        assert flags & dns.flags.QR
        assert flags & dns.flags.RA
        assert bool(flags & dns.flags.RD) == rd
        assert (flags >> 11) & 0xF == 0, "opcode QUERY"
        # RD=0 is answered from the cache only for [server] allow_snoop
        # (PRODUCT.md "Answers"): REFUSED here; blocked names stay
        # blocked whatever RD says.
        want = 3 if "binance" in qname else (0 if rd else 5)
        assert flags & 0xF == want, "rcode %d" % (flags & 0xF)


def test_answers_to_tcp_follow_the_same_rules(cordond):
    resp = cordond.tcp("WwW.BiNaNcE.CoM", "A", edns=0, qid=4242)
    assert resp.id == 4242
    assert rcode_text(resp) == "NXDOMAIN"
    assert resp.flags & dns.flags.RA
    assert str(resp.question[0].name) == "WwW.BiNaNcE.CoM."
    assert [c for c, _ in ede_list(resp)] == [EDE_BLOCKED]
