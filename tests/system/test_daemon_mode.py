"""cordond as an init script starts it: without -f, in the background
(issue 8, defect 1: the first version forked after its audit writer had
started, so a background daemon answered but logged nothing).  Every run
mode must log, reload, reopen and stop as the foreground one does."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

import conftest
from conftest import CORDON, CORDOND, build_conf
from helpers import (EXCHANGES, assert_blocked_nxdomain, make_query,
                     read_lines, udp_query)


def gone(pid):
    """True once pid has exited (absent, or a zombie nobody reaped)."""
    try:
        state = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1]
    except FileNotFoundError:
        return True
    return state.split()[0] == "Z"


def wait_gone(pid, timeout):
    deadline = time.monotonic() + timeout
    while not gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def records(path):
    return [json.loads(ln) for ln in read_lines(path, 0, 0)]


def blocked(path):
    return [r for r in records(path) if "event" not in r]


def wait_records(path, pred, n=1, timeout=3.0):
    deadline = time.monotonic() + timeout
    while True:
        got = [r for r in records(path) if pred(r)] if path.exists() else []
        if len(got) >= n or time.monotonic() > deadline:
            return got
        time.sleep(0.02)


class Background:
    """cordond -c CONF (no -f): the parent returns once the daemon is up."""

    def __init__(self, tmp_path, upstream, overrides=None):
        self.dir = tmp_path
        self.port = conftest.free_port()
        self.pidfile = tmp_path / "cordond.pid"
        self.audit = tmp_path / "blocked.jsonl"
        ov = {"server": {"pidfile": str(self.pidfile)}}
        for k, v in (overrides or {}).items():
            ov.setdefault(k, {}).update(v)
        self.conf = build_conf(tmp_path, self.port, upstream.server, ov)
        self.pid = None
        self.label = "background cordond"

    def start(self):
        t0 = time.monotonic()
        r = subprocess.run([CORDOND, "-c", str(self.conf)],
                           capture_output=True, text=True, timeout=30)
        self.start_s = time.monotonic() - t0
        self.result = r
        if r.returncode == 0:
            self.pid = int(self.pidfile.read_text())
        return r

    def output(self):
        r = getattr(self, "result", None)
        return "" if r is None else "--- stderr of the start\n" + r.stderr

    def kill(self):
        if self.pid is not None and not gone(self.pid):
            os.kill(self.pid, signal.SIGKILL)
            wait_gone(self.pid, 5)


@pytest.fixture
def background(request, tmp_path, upstream):
    made = []

    def make(overrides=None, path=None):
        b = Background(path or tmp_path, upstream, overrides)
        made.append(b)
        if not hasattr(request.node, "cordon_procs"):
            request.node.cordon_procs = []
        request.node.cordon_procs.append(b)
        return b
    yield make
    for b in made:
        b.kill()


def test_background_daemon_logs_reloads_reopens_and_stops(background):
    d = background()
    r = d.start()
    assert r.returncode == 0, r.stderr
    assert "ready" in r.stderr, "the start-up messages reach the caller"
    pid = d.pid
    assert not gone(pid)
    assert os.getsid(pid) == pid, "detached into its own session"
    assert os.readlink("/proc/%d/cwd" % pid) == "/"
    # threads started after the fork: the audit writer is alive
    names = [Path(t, "comm").read_text().strip()
             for t in Path("/proc/%d/task" % pid).iterdir()]
    assert len(names) >= 3, names          # main, worker, audit writer
    for i in range(2):
        assert_blocked_nxdomain(udp_query(d.port, make_query(
            "x%d.binance.com" % i)), "binance.com")
    lines = wait_records(d.audit, lambda r: "event" not in r, 2)
    assert len(lines) == 2, records(d.audit)
    events = [r["event"] for r in records(d.audit) if "event" in r]
    assert events[:1] == ["start"] and "policy" in events, events

    # SIGHUP: a new list takes effect
    lists = d.dir / "lists"
    (lists / "exchanges.domains").write_text(EXCHANGES + "newly.example\n")
    os.kill(pid, signal.SIGHUP)
    deadline = time.monotonic() + 5
    while True:
        resp = udp_query(d.port, make_query("www.newly.example"))
        if resp is not None and resp.rcode() == 3:
            break
        assert time.monotonic() < deadline, "SIGHUP did not reload"
        time.sleep(0.05)

    # SIGUSR1 after logrotate moved the file: a new file is opened
    rotated = d.dir / "blocked.jsonl.1"
    os.rename(d.audit, rotated)
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + 5
    while not d.audit.exists():
        assert time.monotonic() < deadline, "SIGUSR1 did not reopen"
        time.sleep(0.02)
    assert_blocked_nxdomain(udp_query(d.port, make_query(
        "after.binance.com")), "binance.com")
    got = wait_records(d.audit, lambda r: r.get("qname") ==
                       "after.binance.com")
    assert got, records(d.audit)

    # SIGTERM: a clean stop, pidfile gone, the log verifies across files
    os.kill(pid, signal.SIGTERM)
    assert wait_gone(pid, 10), "SIGTERM did not stop the daemon"
    assert not d.pidfile.exists()
    assert records(d.audit)[-1].get("event") == "stop"
    v = subprocess.run([CORDON, "audit", "verify", str(rotated),
                        str(d.audit)], capture_output=True, text=True,
                       timeout=30)
    assert v.returncode == 0, v.stdout + v.stderr


def test_second_background_start_is_refused(background):
    d = background()
    assert d.start().returncode == 0, d.result.stderr
    r = subprocess.run([CORDOND, "-c", str(d.conf)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1
    assert "running already" in r.stderr and str(d.pid) in r.stderr
    assert int(d.pidfile.read_text()) == d.pid
    assert not gone(d.pid)


def test_bad_config_fails_where_the_caller_sees_it(background, tmp_path):
    d = background()
    d.conf.write_text(d.conf.read_text() + "\n[server]\nthreads = lots\n")
    r = d.start()
    assert r.returncode == 1
    assert "%s:" % d.conf in r.stderr and "threads" in r.stderr, r.stderr
    assert not d.pidfile.exists()


def test_stale_pidfile_is_taken_over(background):
    d = background()
    d.pidfile.write_text("999999\n")       # left by a crash: no lock held
    assert d.start().returncode == 0, d.result.stderr
    assert d.pid != 999999
    os.kill(d.pid, signal.SIGTERM)
    assert wait_gone(d.pid, 10)


def test_background_with_two_workers(background):
    d = background({"server": {"threads": "2"}})
    assert d.start().returncode == 0, d.result.stderr
    for i in range(20):
        assert_blocked_nxdomain(udp_query(d.port, make_query(
            "w%d.binance.com" % i)), "binance.com")
    assert len(wait_records(d.audit, lambda r: "event" not in r, 20)) == 20
    os.kill(d.pid, signal.SIGTERM)
    assert wait_gone(d.pid, 10)
    assert not d.pidfile.exists()
