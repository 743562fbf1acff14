"""Blocking on what the upstream answered: a CNAME chain that reaches a
listed name (check_cname) and A/AAAA answers inside listed ranges
(check_answer_ips, `cidr` sources, more specific allow ranges win)
(PRODUCT.md, "Configuration", "Sources manifest")."""

import pytest

from helpers import (CIDR_FILES, ICO, ede_list, rcode_text, rrsets_of,
                     wait_blocks)


def assert_blocked(resp, list_name):
    assert rcode_text(resp) == "NXDOMAIN", resp
    assert not resp.answer, resp
    edes = ede_list(resp)
    assert edes and edes[0][0] == 15 and list_name in edes[0][1], edes


def test_cname_to_listed_name_is_blocked(start_cordond, upstream):
    d = start_cordond(list_files={"ico.domains": ICO + "target.test\n"})
    assert_blocked(d.udp("x.cname.test", "A", edns=0), "ico")
    assert upstream.count("x.cname.test") == 1
    lines, blocks = wait_blocks(d.audit, 1)
    assert len(blocks) == 1, lines
    rec = blocks[0]
    assert (rec["qname"], rec["trigger"], rec["rule"], rec["list"]) == (
        "x.cname.test", "cname", "target.test", "ico")


def test_cname_check_can_be_turned_off(start_cordond):
    d = start_cordond({"policy": {"check_cname": "no"}},
                      list_files={"ico.domains": ICO + "target.test\n"})
    resp = d.udp("x.cname.test", "A")
    assert rrsets_of(resp.answer) == {
        ("x.cname.test.", "CNAME"): ["target.test."],
        ("target.test.", "A"): ["192.0.2.1"]}


def test_cached_cname_answer_is_still_blocked(start_cordond):
    d = start_cordond(list_files={"ico.domains": ICO + "target.test\n"})
    for _ in range(2):
        assert_blocked(d.udp("y.cname.test", "A", edns=0), "ico")
    _, blocks = wait_blocks(d.audit, 2)
    assert [b["qname"] for b in blocks] == ["y.cname.test"] * 2


@pytest.mark.parametrize("qname,rdtype,ip,rule", [
    ("x.a-198-51-100-7.test", "A", "198.51.100.7", "198.51.100.0/24"),
    ("x.a-203-0-113-5.test", "A", "203.0.113.5", "203.0.113.5"),
    ("x.a-203-0-113-15.test", "A", "203.0.113.15",
     "203.0.113.10-203.0.113.20"),
    ("x.aaaa-2001-db8-bad--7.test", "AAAA", "2001:db8:bad::7",
     "2001:db8:bad::/48"),
])
def test_answer_in_listed_range_is_blocked(start_cordond, upstream, qname,
                                           rdtype, ip, rule):
    d = start_cordond(list_files=CIDR_FILES)
    assert_blocked(d.udp(qname, rdtype, edns=0), "badnets")
    assert upstream.count(qname, rdtype) == 1
    lines, blocks = wait_blocks(d.audit, 1)
    assert len(blocks) == 1, lines
    rec = blocks[0]
    assert (rec["trigger"], rec["answer_ip"], rec["list"]) == (
        "ip", ip, "badnets")
    assert rec["rule"] == rule
    assert rec["category"] == "offshore-hosting"


@pytest.mark.parametrize("qname,rdtype", [
    ("x.a-203-0-113-6.test", "A"),          # next to a single address
    ("x.a-203-0-113-21.test", "A"),         # past the end of a range
    ("x.a-198-51-100-201.test", "A"),       # inside the allow range
    ("x.aaaa-2001-db8-beef--7.test", "AAAA"),
    ("x.test", "A"),
])
def test_answer_outside_listed_ranges_passes(start_cordond, qname, rdtype):
    d = start_cordond(list_files=CIDR_FILES)
    resp = d.udp(qname, rdtype)
    assert rcode_text(resp) == "NOERROR"
    assert len(resp.answer) == 1 and resp.answer[0].name.to_text() == (
        qname + ".")


def test_answer_ip_check_can_be_turned_off(start_cordond):
    d = start_cordond({"policy": {"check_answer_ips": "no"}},
                      list_files=CIDR_FILES)
    resp = d.udp("x.a-198-51-100-7.test", "A")
    assert rrsets_of(resp.answer) == {
        ("x.a-198-51-100-7.test.", "A"): ["198.51.100.7"]}


def test_cname_target_address_is_checked(start_cordond):
    d = start_cordond(list_files=CIDR_FILES)
    assert_blocked(d.udp("z.cname.a-198-51-100-9.test", "A", edns=0),
                   "badnets")


def test_sinkhole_for_answer_ip_block(start_cordond):
    d = start_cordond({"policy": {"action": "sinkhole",
                                  "sinkhole_a": "10.0.0.1"}},
                      list_files=CIDR_FILES)
    resp = d.udp("x.a-198-51-100-7.test", "A")
    assert rrsets_of(resp.answer) == {
        ("x.a-198-51-100-7.test.", "A"): ["10.0.0.1"]}
