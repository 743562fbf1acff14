"""threads = 2: worker threads share the port (SO_REUSEPORT) and each one
answers and blocks (PRODUCT.md, "Configuration").  The first version of
this test would have passed with one worker: now each worker thread is
found by name in /proc and must itself have woken for queries."""

import socket
import time
from pathlib import Path

from helpers import (assert_blocked_nxdomain, assert_forwarded_a, make_query,
                     udp_query, wait_blocks)


def worker_threads(pid):
    """{thread name: tid} of cordond's worker threads."""
    out = {}
    for t in Path("/proc/%d/task" % pid).iterdir():
        name = (t / "comm").read_text().strip()
        if name.startswith("cordond-w"):
            out[name] = int(t.name)
    return out


def wakeups(pid, tid):
    """Voluntary context switches of one thread: one per time its loop
    slept and was woken (by a datagram, or its once-a-second timer)."""
    for ln in Path("/proc/%d/task/%d/status" % (pid, tid)).read_text() \
            .splitlines():
        if ln.startswith("voluntary_ctxt_switches:"):
            return int(ln.split()[1])
    raise AssertionError("no voluntary_ctxt_switches")


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


def test_each_worker_answers(start_cordond):
    d = start_cordond({"server": {"threads": "2"}})
    workers = worker_threads(d.proc.pid)
    assert sorted(workers) == ["cordond-w0", "cordond-w1"], workers
    before = {n: wakeups(d.proc.pid, t) for n, t in workers.items()}
    t0 = time.monotonic()
    n = 400
    for i in range(n):
        # a new socket, so a new source port, for each query
        q = make_query("s%d.binance.com" % i, "A")
        assert_blocked_nxdomain(udp_query(d.port, q), "binance.com")
    span = time.monotonic() - t0
    after = {n: wakeups(d.proc.pid, t) for n, t in workers.items()}
    woke = {k: after[k] - before[k] for k in workers}
    # the timer accounts for about one wake-up a second; the rest were
    # queries, and SO_REUSEPORT hashes source ports over both sockets
    timer = int(span) + 3
    for name, count in woke.items():
        assert count > timer + n // 10, (woke, span)
    print("wake-ups per worker over %.2fs: %s" % (span, woke))
    assert sum(woke.values()) >= n // 2, woke


def test_one_thread_has_one_worker(start_cordond):
    d = start_cordond()
    assert sorted(worker_threads(d.proc.pid)) == ["cordond-w0"]
