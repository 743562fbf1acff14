"""Allowed names are forwarded to the upstream; upstream failures become
SERVFAIL within `timeout` (PRODUCT.md, "Answers")."""

import socket
import threading
import time

import pytest

from conftest import Upstream, free_port, ipv6_available
from helpers import (make_query, rcode_text, rrsets_of, soa_of, udp_query)


def direct(upstream, qname, rdtype):
    return udp_query(upstream.port, make_query(qname, rdtype, edns=0,
                                               payload=4096))


def assert_same_answer(got, want):
    assert rcode_text(got) == rcode_text(want)
    assert rrsets_of(got.answer) == rrsets_of(want.answer)
    assert rrsets_of(got.authority) == rrsets_of(want.authority)
    for mine, theirs in zip(got.answer, want.answer):
        assert theirs.ttl - 2 <= mine.ttl <= theirs.ttl, (mine, theirs)


@pytest.mark.parametrize("qname,rdtype", [
    ("fwd.test", "A"), ("fwd.test", "AAAA"), ("fwd.test", "TXT"),
    ("fwd.test", "MX"), ("x.cname.test", "A"), ("x.cname.test", "AAAA"),
    ("www.ttl77.example.org", "A"), ("mid.test", "TXT")])
def test_allowed_name_answered_with_upstream_records(cordond, upstream,
                                                     qname, rdtype):
    got = cordond.udp(qname, rdtype, edns=0)
    assert upstream.count(qname, rdtype) == 1
    want = direct(upstream, qname, rdtype)
    assert got.answer, got
    assert_same_answer(got, want)


def test_upstream_nxdomain_passed_through_with_soa(cordond, upstream):
    got = cordond.udp("gone.nx.test", "A")
    assert rcode_text(got) == "NXDOMAIN"
    soa = soa_of(got)
    assert str(soa.name) == "test."
    assert soa[0].minimum == 30
    assert 0 < soa.ttl <= 60
    assert_same_answer(got, direct(upstream, "gone.nx.test", "A"))


def test_upstream_nodata_passed_through_with_soa(cordond, upstream):
    got = cordond.udp("empty.nodata.test", "AAAA")
    assert rcode_text(got) == "NOERROR"
    assert not got.answer
    assert str(soa_of(got).name) == "test."
    assert_same_answer(got, direct(upstream, "empty.nodata.test", "AAAA"))


def test_upstream_servfail_passed_through(cordond, upstream):
    got = cordond.udp("broken.fail.test", "A")
    assert rcode_text(got) == "SERVFAIL"
    assert upstream.count("broken.fail.test") >= 1


def timed_udp(port, qname, timeout=4.0):
    start = time.monotonic()
    resp = udp_query(port, make_query(qname, "A"), timeout=timeout)
    return resp, time.monotonic() - start


def test_silent_name_servfail_within_timeout_others_still_served(
        start_cordond, upstream):
    d = start_cordond({"upstream": {"timeout": "1s"}})
    result = {}

    def ask_silent():
        result["resp"], result["took"] = timed_udp(d.port, "x.drop.test")

    t = threading.Thread(target=ask_silent)
    t.start()
    time.sleep(0.1)
    # while the silent name waits, other names are answered promptly
    for i in range(5):
        resp, took = timed_udp(d.port, "meanwhile%d.test" % i)
        assert rcode_text(resp) == "NOERROR"
        assert took < 0.5, "answer took %.2fs while a query hung" % took
    t.join(5)
    assert rcode_text(result["resp"]) == "SERVFAIL"
    assert result["took"] <= 1.5, "SERVFAIL after %.2fs" % result["took"]
    assert upstream.count("x.drop.test") >= 1
    # the upstream is still in service for other names afterwards
    resp, took = timed_udp(d.port, "after.test")
    assert rcode_text(resp) == "NOERROR"
    assert took < 0.5
    assert upstream.count("after.test") == 1


def test_many_silent_names_do_not_take_upstream_out(start_cordond,
                                                    upstream):
    d = start_cordond({"upstream": {"timeout": "500ms"}})
    threads = [threading.Thread(target=timed_udp,
                                args=(d.port, "s%d.drop.test" % i))
               for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    for i in range(3):
        resp, took = timed_udp(d.port, "still%d.test" % i)
        assert rcode_text(resp) == "NOERROR", resp
        assert took < 0.5


def test_next_server_tried_when_first_is_dead(start_cordond, upstream):
    dead = free_port()
    d = start_cordond({"upstream": {"timeout": "2s"}},
                      servers="127.0.0.1:%d, %s" % (dead, upstream.server))
    for i in range(3):
        resp, took = timed_udp(d.port, "retry%d.test" % i)
        assert rcode_text(resp) == "NOERROR", resp
        assert rrsets_of(resp.answer) == {("retry%d.test." % i, "A"):
                                          ["192.0.2.1"]}
        assert took <= 2.5
        assert upstream.count("retry%d.test" % i) >= 1


def test_no_upstream_reachable_servfail_within_timeout(start_cordond):
    dead = free_port()
    d = start_cordond({"upstream": {"timeout": "1s"}},
                      servers="127.0.0.1:%d" % dead)
    resp, took = timed_udp(d.port, "unreachable.test")
    assert rcode_text(resp) == "SERVFAIL"
    assert took <= 1.5, "SERVFAIL after %.2fs" % took


def test_next_server_tried_when_first_never_answers(start_cordond, upstream):
    # a black hole: the port is bound, so no ICMP error tells cordond that
    # nobody answers; only its retry within `timeout` can get an answer
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as hole, \
            socket.socket(socket.AF_INET, socket.SOCK_STREAM) as hole_tcp:
        hole.bind(("127.0.0.1", 0))
        port = hole.getsockname()[1]
        hole_tcp.bind(("127.0.0.1", port))
        hole_tcp.listen(16)
        d = start_cordond({"upstream": {"timeout": "2s"}},
                          servers="127.0.0.1:%d, %s" % (port,
                                                        upstream.server))
        for i in range(3):
            resp, took = timed_udp(d.port, "blackhole%d.test" % i)
            assert rcode_text(resp) == "NOERROR", resp
            assert took <= 2.5, "answered after %.2fs" % took


@pytest.mark.skipif(not ipv6_available(), reason="::1 is not available")
def test_ipv6_upstream_server(start_cordond, tmp_path):
    up6 = Upstream(tmp_path, address="::1", name="upstream6")
    up6.start().wait_ready()
    try:
        d = start_cordond(servers=up6.server)
        resp = d.udp("six-up.test", "AAAA")
        assert rrsets_of(resp.answer) == {("six-up.test.", "AAAA"):
                                          ["2001:db8::1"]}
        assert up6.count("six-up.test", "AAAA") == 1
    finally:
        up6.stop()


def test_forged_upstream_answers_ignored(cordond, upstream):
    # the stub first sends an answer with a wrong ID and one for another
    # question, both with A 6.6.6.6, then the real one
    resp = cordond.udp("x.spoof.test", "A", timeout=3)
    assert rrsets_of(resp.answer) == {("x.spoof.test.", "A"): ["192.0.2.1"]}
    # and the forgeries did not reach the cache either
    resp = cordond.udp("x.spoof.test", "A")
    assert rrsets_of(resp.answer) == {("x.spoof.test.", "A"): ["192.0.2.1"]}


def test_upstream_edns_options_and_flags_not_passed_on(cordond, upstream):
    for _ in range(2):      # fresh, then from the cache
        resp = cordond.udp("x.ednsjunk.test", "A", edns=0)
        assert rcode_text(resp) == "NOERROR"
        assert resp.edns == 0
        assert not [o for o in resp.options if o.otype == 65002]
        assert resp.ednsflags & 0x7FFF == 0, hex(resp.ednsflags)


def test_malformed_upstream_answer_gets_servfail(start_cordond, upstream):
    # the stub's answer to "garble" names stops after the question although
    # its header counts an answer record
    d = start_cordond({"upstream": {"timeout": "1s"}})
    for ask in (d.udp, d.tcp):
        start = time.monotonic()
        resp = ask("x.garble.test", "A", timeout=3)
        assert rcode_text(resp) == "SERVFAIL"
        assert not resp.answer
        assert time.monotonic() - start <= 1.5
    assert d.alive()
    resp, took = timed_udp(d.port, "after-garble.test")
    assert rcode_text(resp) == "NOERROR"
