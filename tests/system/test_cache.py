"""The answer cache (PRODUCT.md: "answered from cache when fresh (TTLs
count down)", cache_size = 0 disables the cache)."""

import threading
import time

import dns.rdatatype

from helpers import make_query, rcode_text, rrsets_of, soa_of, udp_query


def test_second_identical_query_not_forwarded(cordond, upstream):
    first = cordond.udp("twice.test", "A")
    second = cordond.udp("twice.test", "A")
    assert upstream.count("twice.test") == 1
    assert rrsets_of(second.answer) == rrsets_of(first.answer) == {
        ("twice.test.", "A"): ["192.0.2.1"]}


def test_cached_ttl_counts_down(cordond, upstream):
    first = cordond.udp("countdown.ttl300.test", "A")
    ttl1 = first.answer[0].ttl
    assert 295 <= ttl1 <= 300
    time.sleep(2.1)
    second = cordond.udp("countdown.ttl300.test", "A")
    ttl2 = second.answer[0].ttl
    assert ttl1 - 4 <= ttl2 <= ttl1 - 1, (ttl1, ttl2)
    assert upstream.count("countdown.ttl300.test") == 1


def test_expired_entry_is_fetched_again(cordond, upstream):
    cordond.udp("short.ttl1.test", "A")
    time.sleep(1.6)
    resp = cordond.udp("short.ttl1.test", "A")
    assert rcode_text(resp) == "NOERROR"
    assert resp.answer and resp.answer[0].ttl <= 1
    assert upstream.count("short.ttl1.test") == 2


def test_case_variants_share_a_cache_entry(cordond, upstream):
    for qname in ("www.cased.test", "WWW.CASED.TEST", "wWw.CaSeD.tEsT"):
        resp = cordond.udp(qname, "A")
        assert rcode_text(resp) == "NOERROR"
        assert str(resp.question[0].name) == qname + "."
        assert resp.answer[0].rdtype == dns.rdatatype.A
    assert upstream.count("www.cased.test") == 1


def test_query_types_are_cached_apart(cordond, upstream):
    a = cordond.udp("types.test", "A")
    aaaa = cordond.udp("types.test", "AAAA")
    assert rrsets_of(a.answer) == {("types.test.", "A"): ["192.0.2.1"]}
    assert rrsets_of(aaaa.answer) == {("types.test.", "AAAA"):
                                      ["2001:db8::1"]}
    assert upstream.count("types.test", "A") == 1
    assert upstream.count("types.test", "AAAA") == 1


def test_nxdomain_is_cached(cordond, upstream):
    for _ in range(3):
        resp = cordond.udp("neg.nx.test", "A")
        assert rcode_text(resp) == "NXDOMAIN"
        assert str(soa_of(resp).name) == "test."
    assert upstream.count("neg.nx.test") == 1


def test_nodata_is_cached(cordond, upstream):
    for _ in range(3):
        resp = cordond.udp("neg.nodata.test", "A")
        assert rcode_text(resp) == "NOERROR"
        assert not resp.answer
        soa_of(resp)
    assert upstream.count("neg.nodata.test") == 1


def test_identical_queries_in_flight_reach_upstream_once(cordond,
                                                         upstream):
    results = []

    def ask(i):
        q = make_query("inflight.slow.test", "A", qid=1000 + i)
        results.append(udp_query(cordond.port, q, timeout=3))

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert len(results) == 6
    for resp in results:
        assert rrsets_of(resp.answer) == {("inflight.slow.test.", "A"):
                                          ["192.0.2.1"]}
    assert sorted(r.id for r in results) == list(range(1000, 1006))
    assert upstream.count("inflight.slow.test") == 1


def test_cache_size_zero_disables_cache(start_cordond, upstream):
    d = start_cordond({"upstream": {"cache_size": "0"}})
    for _ in range(3):
        resp = d.udp("nocache.test", "A")
        assert rcode_text(resp) == "NOERROR"
    assert upstream.count("nocache.test") == 3


def test_cache_max_ttl_caps_cache_lifetime(start_cordond, upstream):
    # like Unbound's cache-max-ttl: the entry expires after cache_max_ttl
    # (the TTLs clients see may still count down from the original)
    d = start_cordond({"upstream": {"cache_max_ttl": "2s"}})
    resp = d.udp("capped.ttl300.test", "A")
    assert resp.answer[0].ttl <= 300
    time.sleep(0.5)
    d.udp("capped.ttl300.test", "A")
    assert upstream.count("capped.ttl300.test") == 1
    time.sleep(2.2)
    resp = d.udp("capped.ttl300.test", "A")
    assert rcode_text(resp) == "NOERROR"
    assert upstream.count("capped.ttl300.test") == 2


def test_negative_answer_cached_no_longer_than_soa_ttl(cordond, upstream):
    # RFC 2308 section 5: a denial is cached for the smaller of the SOA's
    # TTL (here 1 s) and its MINIMUM field (30 s)
    resp = cordond.udp("brief.ttl1.nx.test", "A")
    assert rcode_text(resp) == "NXDOMAIN"
    assert soa_of(resp).ttl <= 1
    time.sleep(1.6)
    resp = cordond.udp("brief.ttl1.nx.test", "A")
    assert rcode_text(resp) == "NXDOMAIN"
    assert soa_of(resp).ttl <= 1
    assert upstream.count("brief.ttl1.nx.test") == 2


def test_cached_negative_answer_ttl_counts_down(cordond, upstream):
    first = soa_of(cordond.udp("down.nodata.test", "A")).ttl
    time.sleep(2.1)
    second = soa_of(cordond.udp("down.nodata.test", "A")).ttl
    assert first - 4 <= second <= first - 1, (first, second)
    assert upstream.count("down.nodata.test") == 1
