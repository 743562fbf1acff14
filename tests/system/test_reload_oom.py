"""A reload that runs out of memory fails and keeps the old policy
(PRODUCT.md "Sources manifest": a load that fails leaves the running
policy in force; diag.h: the project's out-of-memory policy).

cordond starts with small lists and no limit; after one ordinary reload
(so the loader thread's stack and malloc arena are part of what it has
used) its address space is capped at its peak plus a margin with
prlimit(2).  Another ordinary reload must still work under the cap; then
one list is replaced by a couple of million names, far more than the
margin holds, and `cordon ctl reload` / SIGHUP must fail with an "out of
memory" reason while the daemon keeps answering from the old lists."""

import os
import resource
import signal
import time
from pathlib import Path

import pytest

from conftest import free_port
from helpers import MANIFEST, assert_blocked_nxdomain, rcode_text
from test_control import (control_overrides, ctl, metrics, metrics_until,
                          series, short_dir)  # noqa: F401 (fixture)

MARGIN = 32 << 20           # bytes of address space above the peak
BIG_NAMES = 3_000_000       # ~63 MB of text, ~300 MB to load
OOM_MANIFEST = MANIFEST + """
[source grown]
file = grown.domains
format = domains
category = grown
kind = block
"""
OLD_NAME = "old.grown.test"
NEW_NAME = "n0000007.grown.test"


def vm_kib(pid, key):
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise AssertionError("no %s in /proc/%d/status" % (key, pid))


def write_atomically(path, text):
    tmp = Path(str(path) + ".new")
    tmp.write_text(text, encoding="ascii")
    os.replace(tmp, path)


def write_big(path, n):
    tmp = Path(str(path) + ".new")
    with open(tmp, "w", encoding="ascii") as f:
        for start in range(0, n, 100_000):
            f.write("".join("n%07d.grown.test\n" % i
                            for i in range(start, min(n, start + 100_000))))
    os.replace(tmp, path)


@pytest.fixture
def capped_cordond(start_cordond, short_dir):
    http_port = free_port()
    d = start_cordond(control_overrides(short_dir, http_port),
                      list_files={"sources.ini": OOM_MANIFEST,
                                  "grown.domains": OLD_NAME + "\n"})
    d.sock = short_dir / "ctl.sock"
    d.http = http_port
    d.grown = Path(d.workdir) / "lists" / "grown.domains"
    r = ctl(d.sock, "reload")
    assert r.returncode == 0, r.stderr
    peak = vm_kib(d.proc.pid, "VmPeak") * 1024
    d.limit = peak + MARGIN
    d.sizes = "VmPeak %d KiB, VmSize %d KiB, cap %d KiB" % (
        peak >> 10, vm_kib(d.proc.pid, "VmSize"), d.limit >> 10)
    # the soft limit only: lifting it again needs no privilege
    inf = resource.RLIM_INFINITY
    resource.prlimit(d.proc.pid, resource.RLIMIT_AS, (d.limit, inf))
    yield d
    # lift the cap so the daemon can stop cleanly whatever happened
    if d.alive():
        resource.prlimit(d.proc.pid, resource.RLIMIT_AS, (inf, inf))


def test_reload_out_of_memory_keeps_old_policy(capped_cordond):
    d = capped_cordond
    failed = series("cordon_reloads_total", result="failed")
    ok = series("cordon_reloads_total", result="ok")
    assert_blocked_nxdomain(d.udp(OLD_NAME), OLD_NAME)

    # an ordinary reload fits under the cap: the margin is for the lists
    base = metrics(d.http)
    r = ctl(d.sock, "reload")
    assert r.returncode == 0, "reload failed under the cap %d: %s" % (
        d.limit, r.stderr)
    assert metrics(d.http)[ok] == base[ok] + 1

    write_big(d.grown, BIG_NAMES)
    r = ctl(d.sock, "reload")
    assert r.returncode == 1, (d.sizes, r.stdout, r.stderr)
    assert r.stdout == ""
    assert r.stderr.startswith("error: "), r.stderr
    assert "out of memory" in r.stderr, r.stderr
    assert d.alive(), d.output()
    m = metrics(d.http)
    assert m[failed] == base[failed] + 1
    assert m[ok] == base[ok] + 1
    # the old lists are in force, none of the new names
    assert_blocked_nxdomain(d.udp(OLD_NAME), OLD_NAME)
    assert_blocked_nxdomain(d.udp("binance.com"), "binance.com")
    assert rcode_text(d.udp(NEW_NAME)) == "NOERROR"
    log = Path(d.errfile).read_text(errors="replace")
    assert "reload failed" in log and "out of memory while" in log, log[-2000:]

    # SIGHUP fails the same way, and is counted
    os.kill(d.proc.pid, signal.SIGHUP)
    m = metrics_until(d.http, {failed: base[failed] + 2}, timeout=20.0)
    assert m[failed] == base[failed] + 2, d.sizes
    assert d.alive(), d.output()
    assert rcode_text(d.udp(NEW_NAME)) == "NOERROR"

    # what the failed loads took was given back: a list that fits loads
    write_atomically(d.grown, OLD_NAME + "\n" + NEW_NAME + "\n")
    deadline = time.monotonic() + 10
    while True:
        r = ctl(d.sock, "reload")
        if r.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)     # the SIGHUP reload may still be running
    assert r.returncode == 0, r.stderr
    assert_blocked_nxdomain(d.udp(NEW_NAME), NEW_NAME)
    print(d.sizes)
