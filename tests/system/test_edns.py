"""EDNS per RFC 6891 / RFC 8906 for every answer, made-up or forwarded
(PRODUCT.md, "Answers")."""

import dns.edns
import dns.message
import dns.flags
import dns.opcode
import dns.rcode
import pytest

from helpers import ede_list, make_query, rcode_text, udp_query, udp_raw

# a blocked name, a forwarded one, a forwarded NXDOMAIN
NAMES = ["www.binance.com", "edns.test", "edns.nx.test"]
UNKNOWN_OPTIONS = [dns.edns.GenericOption(65001, b"\xde\xad\xbe\xef"),
                   dns.edns.GenericOption(65500, b"")]
Z_BITS = 0x7FFF     # the EDNS flag bits after DO, all unassigned
EXPECTED = {"www.binance.com": "NXDOMAIN", "edns.test": "NOERROR",
            "edns.nx.test": "NXDOMAIN"}


def assert_kind(resp, qname):
    """The answer is the one expected for qname: a made-up block (with EDE
    when EDNS was used), a forwarded answer or a forwarded denial."""
    assert rcode_text(resp) == EXPECTED[qname], resp
    is_blocked = "binance" in qname
    if resp.edns >= 0:
        assert ([c for c, _ in ede_list(resp)] == [15]) == is_blocked, resp


@pytest.mark.parametrize("qname", NAMES)
def test_opt_in_answer_iff_query_had_one(cordond, qname):
    resp = cordond.udp(qname, "A")
    assert resp.edns == -1, "OPT without EDNS in the query"
    assert not resp.additional
    assert_kind(resp, qname)
    resp = cordond.udp(qname, "A", edns=0)
    assert resp.edns == 0, "no OPT though the query had one"
    assert resp.payload >= 512
    assert_kind(resp, qname)


@pytest.mark.parametrize("qname", NAMES)
def test_unknown_edns_version_gets_badvers(cordond, qname):
    q = make_query(qname, "A", edns=1)
    resp = udp_query(cordond.port, q)
    assert resp.rcode() == dns.rcode.BADVERS
    assert resp.edns == 0, "BADVERS must come with OPT version 0"
    assert not resp.answer


@pytest.mark.parametrize("qname", NAMES)
def test_unknown_options_not_echoed(cordond, qname):
    resp = cordond.udp(qname, "A", edns=0, options=UNKNOWN_OPTIONS)
    assert resp.edns == 0
    assert_kind(resp, qname)
    codes = [opt.otype for opt in resp.options]
    assert 65001 not in codes and 65500 not in codes, codes


@pytest.mark.parametrize("qname", NAMES)
def test_unknown_flag_bits_not_echoed_do_echoed(cordond, qname):
    q = make_query(qname, "A", edns=0)
    q.ednsflags = dns.flags.DO | Z_BITS
    resp = udp_query(cordond.port, q)
    assert resp.edns == 0
    assert resp.ednsflags & Z_BITS == 0, hex(resp.ednsflags)
    assert resp.ednsflags & dns.flags.DO, "DO not echoed"
    assert_kind(resp, qname)


@pytest.mark.parametrize("qname", NAMES)
def test_do_bit_not_set_when_not_asked(cordond, qname):
    resp = cordond.udp(qname, "A", edns=0, do=False)
    assert not resp.ednsflags & dns.flags.DO
    assert_kind(resp, qname)


@pytest.mark.parametrize("opcode", [2, 3, 5, 15])
@pytest.mark.parametrize("edns", [None, 0])
def test_unknown_opcode_gets_notimp(cordond, upstream, opcode, edns):
    q = make_query("opcode.test", "A", edns=edns)
    q.set_opcode(opcode)
    wire = q.to_wire()
    data = udp_raw(cordond.port, wire)
    assert data is not None, "no answer to opcode %d" % opcode
    assert data[0:2] == wire[0:2]
    flags = int.from_bytes(data[2:4], "big")
    assert flags & dns.flags.QR
    assert flags & 0xF == dns.rcode.NOTIMP
    assert (flags >> 11) & 0xF == opcode, "opcode not copied"
    arcount = int.from_bytes(data[10:12], "big")
    assert (arcount == 1) == (edns is not None), "OPT iff query had one"
    assert upstream.count("opcode.test") == 0


def test_payload_below_512_is_taken_as_512(cordond):
    # ~400 octets fit in 512 however small the client says its buffer is
    resp = cordond.udp("mid.test", "TXT", edns=0, payload=100)
    assert not resp.flags & dns.flags.TC
    assert len(resp.to_wire()) > 300
    assert resp.answer


def test_client_payload_size_honoured(cordond):
    q = make_query("big.test", "TXT", edns=0, payload=700)
    data = udp_raw(cordond.port, q.to_wire())
    assert data is not None
    assert len(data) <= 700
    resp = dns.message.from_wire(data)
    assert resp.flags & dns.flags.TC
    assert resp.edns == 0, "truncated answer without OPT"


def test_answer_capped_at_edns_size(cordond):
    # default edns_size 1232 even when the client offers 4096
    q = make_query("big.test", "TXT", edns=0, payload=4096)
    data = udp_raw(cordond.port, q.to_wire())
    assert data is not None
    assert len(data) <= 1232
    assert int.from_bytes(data[2:4], "big") & dns.flags.TC


def test_large_edns_size_sends_whole_answer_over_udp(start_cordond):
    d = start_cordond({"server": {"edns_size": "4096"}})
    resp = d.udp("big.test", "TXT", edns=0, payload=4096)
    assert not resp.flags & dns.flags.TC
    assert len(resp.to_wire()) > 2000
    assert len(resp.answer[0]) == 12


def test_opt_present_on_servfail(start_cordond):
    d = start_cordond({"upstream": {"timeout": "500ms"}})
    resp = d.udp("x.fail.test", "A", edns=0)
    assert rcode_text(resp) == "SERVFAIL"
    assert resp.edns == 0
    resp = d.udp("x.drop.test", "A", edns=0, timeout=3)
    assert rcode_text(resp) == "SERVFAIL"
    assert resp.edns == 0


def test_cached_answers_follow_each_querys_edns(cordond, upstream):
    # (edns version or None, DO) in an order that puts every kind of query
    # after every other one, the first filling the cache
    steps = [(None, False), (0, True), (0, False), (None, False),
             (0, True), (None, False), (0, False), (0, True)]
    for qname in ("cached-edns.test", "cached-edns.nx.test"):
        for edns, do in steps:
            resp = cordond.udp(qname, "A", edns=edns, do=do)
            assert resp.edns == (-1 if edns is None else 0), (qname, edns)
            assert bool(resp.ednsflags & dns.flags.DO) == do, (qname, do)
            assert not [o for o in resp.options if o.otype != 15]
        # a cache may keep DO and non-DO answers apart
        assert upstream.count(qname) <= 2
