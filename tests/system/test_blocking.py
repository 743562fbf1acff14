"""Matching rules (PRODUCT.md, "Sources manifest"): a listed domain blocks
itself and every name below it, case-insensitively, with or without the
final dot, IDN in punycode form; the most specific of block and allow
wins; every list format loads."""

import dns.name
import pytest

from helpers import (assert_blocked_nxdomain, assert_forwarded_a, ede_list,
                     rcode_text, soa_of)


def blocked_by(d, upstream, qname, rule, list_name, rdtype="A"):
    """Asserts qname is answered NXDOMAIN for rule of list_name and never
    reached the upstream."""
    resp = d.udp(qname, rdtype, edns=0)
    assert_blocked_nxdomain(resp, rule)
    texts = [text for code, text in ede_list(resp) if code == 15]
    assert texts and list_name in texts[0], (qname, ede_list(resp))
    assert upstream.count(qname) == 0, "%s was forwarded" % qname


def forwarded(d, upstream, qname):
    resp = d.udp(qname, "A")
    assert_forwarded_a(resp, qname)
    assert upstream.count(qname, "A") == 1, "%s not forwarded" % qname


def test_listed_name_is_blocked(cordond, upstream):
    blocked_by(cordond, upstream, "binance.com", "binance.com", "exchanges")


@pytest.mark.parametrize("qname", ["www.binance.com", "a.b.c.binance.com"])
def test_subdomain_of_listed_name_is_blocked(cordond, upstream, qname):
    blocked_by(cordond, upstream, qname, "binance.com", "exchanges")


@pytest.mark.parametrize("rdtype", ["AAAA", "MX", "TXT", "HTTPS"])
def test_every_query_type_of_listed_name_is_blocked(cordond, upstream,
                                                    rdtype):
    blocked_by(cordond, upstream, "www.binance.com", "binance.com",
               "exchanges", rdtype)


def test_parent_and_siblings_of_listed_name_are_forwarded(cordond,
                                                          upstream):
    # deep.parent.test is listed; its parent and a sibling are not.
    forwarded(cordond, upstream, "parent.test")
    forwarded(cordond, upstream, "other.parent.test")
    blocked_by(cordond, upstream, "x.deep.parent.test", "deep.parent.test",
               "exchanges")


def test_match_is_label_wise_not_string_suffix(cordond, upstream):
    forwarded(cordond, upstream, "notbinance.com")
    forwarded(cordond, upstream, "binance.com.evil.test")


@pytest.mark.parametrize("qname", ["mixed.case.example",
                                   "MIXED.CASE.EXAMPLE",
                                   "www.mIxEd.cAsE.eXaMpLe"])
def test_names_compare_case_insensitively(cordond, upstream, qname):
    # listed as "MiXeD.CaSe.Example"
    blocked_by(cordond, upstream, qname, "mixed.case.example", "exchanges")


@pytest.mark.parametrize("qname", ["trailing.example",
                                   "www.trailing.example"])
def test_entry_with_trailing_dot_matches(cordond, upstream, qname):
    # listed as "trailing.example."
    blocked_by(cordond, upstream, qname, "trailing.example", "exchanges")


def test_allow_beats_less_specific_block(cordond, upstream):
    # block example.com, allow safe.example.com
    forwarded(cordond, upstream, "safe.example.com")
    forwarded(cordond, upstream, "www.safe.example.com")
    blocked_by(cordond, upstream, "example.com", "example.com", "exchanges")
    blocked_by(cordond, upstream, "other.example.com", "example.com",
               "exchanges")


def test_block_beats_less_specific_allow(cordond, upstream):
    # block bad.safe.example.com (list ico) under allow safe.example.com
    for qname in ("bad.safe.example.com", "x.bad.safe.example.com"):
        blocked_by(cordond, upstream, qname, "bad.safe.example.com", "ico")
    forwarded(cordond, upstream, "good.safe.example.com")


@pytest.mark.parametrize("qname", ["hosts-one.example", "hosts-two.example",
                                   "www.hosts-six.example"])
def test_hosts_format_blocks(cordond, upstream, qname):
    rule = qname[4:] if qname.startswith("www.") else qname
    blocked_by(cordond, upstream, qname, rule, "hostsfile")


def test_adblock_format_blocks_and_allows(cordond, upstream):
    blocked_by(cordond, upstream, "ad-one.example", "ad-one.example",
               "adlist")
    blocked_by(cordond, upstream, "cdn.ad-one.example", "ad-one.example",
               "adlist")
    # "@@||ok.ad-one.example^" is an allow rule
    forwarded(cordond, upstream, "ok.ad-one.example")


def test_json_format_reads_only_its_key(cordond, upstream):
    blocked_by(cordond, upstream, "json-one.example", "json-one.example",
               "jsonfeed")
    blocked_by(cordond, upstream, "www.json-two.example", "json-two.example",
               "jsonfeed")
    # listed under another key of the same JSON object
    forwarded(cordond, upstream, "json-not.example")


@pytest.mark.parametrize("qname", ["xn--bcher-kva.example",
                                   "www.XN--BCHER-KVA.example"])
def test_unicode_entry_blocks_its_punycode_form(cordond, upstream, qname):
    # listed as "bücher.example"
    resp = cordond.udp(qname, "A", edns=0)
    assert rcode_text(resp) == "NXDOMAIN"
    assert upstream.count(qname) == 0
    assert soa_of(resp).name == dns.name.from_text("xn--bcher-kva.example")
