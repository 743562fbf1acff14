"""Reloading the policy on SIGHUP: the new lists apply without dropping a
query, an event line records the new policy, and a reload that fails keeps
the old policy (PRODUCT.md, "Sources manifest", "Audit log", `cordon ctl
reload`)."""

import json
import os
import signal
import threading
import time
from pathlib import Path

from helpers import (EXCHANGES, assert_blocked_nxdomain, make_query,
                     rcode_text, read_lines, udp_query, verify_chain,
                     wait_blocks)


def poll_blocked(d, stem, seconds=3.0):
    """Asks fresh names under stem until one is NXDOMAIN; returns True
    when that happened within seconds."""
    deadline = time.monotonic() + seconds
    i = 0
    while time.monotonic() < deadline:
        i += 1
        if rcode_text(d.udp("p%d.%s" % (i, stem), "A")) == "NXDOMAIN":
            return True
        time.sleep(0.1)
    return False


def policy_events(path, at_least=0, timeout=2.0):
    """The event lines of the audit log, once there are at_least of them
    (or timeout passed)."""
    deadline = time.monotonic() + timeout
    while True:
        events = [json.loads(ln) for ln in read_lines(path, 0, 0)
                  if '"event"' in ln]
        if len(events) >= at_least or time.monotonic() >= deadline:
            return events
        time.sleep(0.02)


def test_sighup_applies_new_list_without_dropping_queries(start_cordond,
                                                          upstream):
    d = start_cordond()
    assert rcode_text(d.udp("newly.example", "A")) == "NOERROR"
    old_events = policy_events(d.audit, 1)
    assert old_events, "no start-up event line"
    stop = threading.Event()
    failures = []

    def keep_asking():
        i = 0
        while not stop.is_set() and i < 500:
            i += 1
            try:
                resp = udp_query(d.port, make_query("during%d.test" % i),
                                 timeout=1.0)
                if rcode_text(resp) != "NOERROR":
                    failures.append(rcode_text(resp))
            except AssertionError as e:
                failures.append(str(e))
            time.sleep(0.005)

    t = threading.Thread(target=keep_asking)
    t.start()
    try:
        lists = Path(d.workdir) / "lists" / "exchanges.domains"
        lists.write_text(EXCHANGES + "newly.example\n", encoding="utf-8")
        os.kill(d.proc.pid, signal.SIGHUP)
        assert poll_blocked(d, "newly.example"), "new list not applied"
    finally:
        stop.set()
        t.join(5)
    assert not failures, failures[:5]
    # the old entries still hold
    assert_blocked_nxdomain(d.udp("www.binance.com", "A"), "binance.com")
    policy_events(d.audit, len(old_events) + 1)
    time.sleep(0.2)
    events = policy_events(d.audit)
    assert len(events) == len(old_events) + 1, events
    new = events[-1]
    assert new["event"] == "policy"
    assert new["policy"] != old_events[-1]["policy"]
    lines, blocks = wait_blocks(d.audit, 2)
    assert blocks[-1]["policy"] == new["policy"]
    verify_chain(lines)


def test_failed_reload_keeps_old_policy(start_cordond):
    d = start_cordond()
    before = policy_events(d.audit, 1)
    assert before, "no start-up event line"
    (Path(d.workdir) / "lists" / "ico.domains").unlink()
    (Path(d.workdir) / "lists" / "exchanges.domains").write_text(
        "only-new.example\n")
    os.kill(d.proc.pid, signal.SIGHUP)
    time.sleep(1.0)
    assert d.alive()
    # the old policy, both lists, is still in force; the new one is not
    resp = d.udp("bad.safe.example.com", "A")
    assert_blocked_nxdomain(resp, "bad.safe.example.com")
    assert_blocked_nxdomain(d.udp("binance.com", "A"), "binance.com")
    assert rcode_text(d.udp("only-new.example", "A")) == "NOERROR"
    assert policy_events(d.audit) == before
    assert "ico.domains" in Path(d.errfile).read_text()
