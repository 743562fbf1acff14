"""threads = 2: worker threads share the port (SO_REUSEPORT) and each one
answers and blocks (PRODUCT.md, "Configuration")."""

from helpers import (assert_blocked_nxdomain, assert_forwarded_a, make_query,
                     udp_query, wait_blocks)


def test_two_threads_answer_and_block(start_cordond):
    d = start_cordond({"server": {"threads": "2"}})
    # every query from a new source port: the kernel spreads them over
    # both workers' sockets
    for i in range(40):
        if i % 2:
            q = make_query("w%d.binance.com" % i, "A")
            assert_blocked_nxdomain(udp_query(d.port, q), "binance.com")
        else:
            q = make_query("w%d.thread.test" % i, "A")
            assert_forwarded_a(udp_query(d.port, q), "w%d.thread.test" % i)
        resp = d.tcp("t%d.binance.com" % i if i % 2 else "t%d.test" % i)
        assert resp.rcode() == (3 if i % 2 else 0)
    lines, blocks = wait_blocks(d.audit, 40)
    assert len(blocks) == 40, lines
    assert d.alive()
