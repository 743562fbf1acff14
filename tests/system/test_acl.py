"""Client access control and listeners (PRODUCT.md, "Configuration":
clients outside `allow` get REFUSED; UDP and TCP on each listen address)."""

import pytest

from conftest import ipv6_available
from helpers import (assert_blocked_nxdomain, assert_forwarded_a, ede_list,
                     rcode_text, wait_blocks)

needs_ipv6 = pytest.mark.skipif(not ipv6_available(),
                                reason="::1 is not available on this machine")


def test_client_outside_allow_refused(start_cordond, upstream):
    d = start_cordond({"server": {"allow": "10.0.0.0/8"}})
    for qname in ("outside.test", "www.binance.com"):
        for ask in (d.udp, d.tcp):
            resp = ask(qname, "A")
            assert rcode_text(resp) == "REFUSED", (qname, ask)
            assert not resp.answer
    assert upstream.count("outside.test") == 0


def test_refused_client_with_edns_gets_opt(start_cordond):
    d = start_cordond({"server": {"allow": "10.0.0.0/8, fd00::/8"}})
    resp = d.udp("outside.test", "A", edns=0)
    assert rcode_text(resp) == "REFUSED"
    assert resp.edns == 0


def test_client_inside_allow_served(start_cordond):
    d = start_cordond({"server": {"allow": "10.0.0.0/8, 127.0.0.1/32"}})
    assert_forwarded_a(d.udp("inside.test", "A"), "inside.test")


@needs_ipv6
def test_ipv6_listener_answers(start_cordond, upstream):
    d = start_cordond(listen_v6=True)
    assert_forwarded_a(d.udp("six.test", "A", addr="::1"), "six.test")
    assert_forwarded_a(d.tcp("six-tcp.test", "A", addr="::1"),
                       "six-tcp.test")
    assert_blocked_nxdomain(d.udp("www.binance.com", "A", addr="::1"),
                            "binance.com")
    # and the IPv4 listener of the same config still answers
    assert_forwarded_a(d.udp("four.test", "A"), "four.test")


@needs_ipv6
def test_ipv6_client_outside_allow_refused(start_cordond):
    d = start_cordond({"server": {"allow": "127.0.0.0/8"}}, listen_v6=True)
    assert rcode_text(d.udp("six.test", "A", addr="::1")) == "REFUSED"
    assert_forwarded_a(d.udp("four.test", "A"), "four.test")


@needs_ipv6
def test_ipv6_client_logged_in_audit(start_cordond):
    d = start_cordond(listen_v6=True)
    d.udp("www.binance.com", "A", addr="::1")
    lines, blocks = wait_blocks(d.audit, 1)
    assert [b["client"] for b in blocks] == ["::1"], lines
    assert ede_list(d.udp("binance.com", "A", addr="::1", edns=0))
