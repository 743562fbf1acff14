"""Log rotation and one daemon per address and log (PRODUCT.md, "Audit
log": the daemon reopens its log files on SIGUSR1, seq counts up without
gaps across rotations, the first line of a new file chains to the last
line of the file before it; `cordon audit verify` checks rotated files as
one sequence).

Rotation is done as logrotate does it: rename the file, then SIGUSR1."""

import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import CORDON, CORDOND, build_conf, free_port, require_program
from helpers import (GENESIS, assert_blocked_nxdomain, assert_forwarded_a,
                     block_records, make_query, read_lines, udp_query,
                     verify_chain, wait_blocks)


def sha256(line):
    return hashlib.sha256(line.encode("utf-8")).hexdigest()


def block(d, names):
    for name in names:
        assert_blocked_nxdomain(d.udp(name), "binance.com")


def wait_file(path, timeout=2.0):
    deadline = time.monotonic() + timeout
    while not Path(path).exists():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def qnames(lines):
    return [b["qname"] for b in block_records(lines)]


def audit_verify_available():
    if not os.access(CORDON, os.X_OK):
        return False
    r = subprocess.run([CORDON, "help", "audit"], capture_output=True,
                       text=True, timeout=10)
    return r.returncode == 0 and "verify" in r.stdout


def audit_verify(*files):
    return subprocess.run([CORDON, "audit", "verify"] + [str(f) for f in
                          files], capture_output=True, text=True,
                          timeout=30)


def rotate(d, old):
    """logrotate's way: rename, then SIGUSR1; waits for the new file."""
    os.rename(d.audit, old)
    os.kill(d.proc.pid, signal.SIGUSR1)
    assert wait_file(d.audit), "no new log file after SIGUSR1"


def test_sigusr1_rotation_continues_seq_and_chain(cordond):
    d = cordond
    old = d.workdir / "blocked.jsonl.1"
    first = ["r%d.binance.com" % i for i in range(3)]
    block(d, first)
    lines, _ = wait_blocks(d.audit, 3)
    # renamed but not yet signalled: lines still go to the renamed file
    os.rename(d.audit, old)
    block(d, ["between.binance.com"])
    _, blocks = wait_blocks(old, 4)
    assert len(blocks) == 4
    os.kill(d.proc.pid, signal.SIGUSR1)
    assert wait_file(d.audit), "no new log file after SIGUSR1"
    assert d.alive()
    later = ["s%d.binance.com" % i for i in range(3)]
    block(d, later)
    assert_forwarded_a(d.udp("still.answers.test"), "still.answers.test")
    new_lines, _ = wait_blocks(d.audit, 3)
    time.sleep(0.2)                 # nothing more may turn up anywhere
    old_lines = read_lines(old, 0, 0)
    new_lines = read_lines(d.audit, 0, 0)

    assert qnames(old_lines) == first + ["between.binance.com"]
    assert qnames(new_lines) == later
    verify_chain(old_lines)         # from the genesis hash
    head = json.loads(new_lines[0])
    tail = json.loads(old_lines[-1])
    assert head["seq"] == tail["seq"] + 1
    assert head["prev"] == sha256(old_lines[-1])
    assert head["prev"] != GENESIS
    verify_chain(old_lines + new_lines)
    st = os.stat(d.audit)
    assert oct(st.st_mode & 0o777) == oct(0o640)


def test_two_rotations_and_restart_keep_one_sequence(start_cordond):
    d = start_cordond()
    files = []
    for round_ in range(2):
        block(d, ["k%d.binance.com" % round_])
        wait_blocks(d.audit, 1)
        rotated = d.workdir / ("blocked.jsonl.r%d" % round_)
        rotate(d, rotated)
        files.append(rotated)
    block(d, ["k2.binance.com"])
    wait_blocks(d.audit, 1)
    assert d.stop() == 0
    files.append(d.audit)
    # rotated files, oldest first, then the live one: one chain
    everything = []
    for f in files:
        everything += read_lines(f, 0, 0)
    verify_chain(everything)
    assert qnames(everything) == ["k0.binance.com", "k1.binance.com",
                                  "k2.binance.com"]


@pytest.mark.skipif(not audit_verify_available(),
                    reason="cordon audit verify is not built yet")
def test_audit_verify_checks_rotated_files_as_one(cordond):
    d = cordond
    old = d.workdir / "blocked.jsonl.1"
    block(d, ["v%d.binance.com" % i for i in range(3)])
    wait_blocks(d.audit, 3)
    rotate(d, old)
    block(d, ["w%d.binance.com" % i for i in range(3)])
    wait_blocks(d.audit, 3)
    time.sleep(0.1)
    n = len(read_lines(old, 0, 0)) + len(read_lines(d.audit, 0, 0))

    r = audit_verify(old, d.audit)
    assert r.returncode == 0, r.stderr
    assert "verified: %d lines in 2 files" % n in r.stdout, r.stdout
    # the wrong order is caught
    r = audit_verify(d.audit, old)
    assert r.returncode == 1, r.stdout
    # one edited line in the old file is caught, and named
    lines = old.read_text().splitlines(keepends=True)
    assert '"v1.binance.com"' in lines[3]     # after start and policy
    lines[3] = lines[3].replace('"v1.binance.com"', '"v7.binance.com"')
    old.write_text("".join(lines))
    r = audit_verify(old, d.audit)
    assert r.returncode == 1, r.stdout
    assert str(old) in r.stderr, r.stderr
    # a line removed from the new file is caught as well
    old.write_text("".join(lines).replace('"v7.binance.com"',
                                          '"v1.binance.com"'))
    assert audit_verify(old, d.audit).returncode == 0
    new = d.audit.read_text().splitlines(keepends=True)
    d.stop()
    d.audit.write_text("".join(new[:1] + new[2:]))
    r = audit_verify(old, d.audit)
    assert r.returncode == 1, r.stdout
    assert str(d.audit) in r.stderr, r.stderr


def run_second(conf, timeout=10):
    """Runs a second cordond in the foreground; it must exit by itself."""
    require_program(CORDOND)
    try:
        return subprocess.run([CORDOND, "-f", "-c", str(conf)],
                              capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail("the second cordond kept running (it was not refused)")


def test_second_daemon_on_same_address_is_refused(start_cordond, upstream,
                                                  tmp_path):
    pidfile = tmp_path / "cordond.pid"
    d = start_cordond({"server": {"pidfile": str(pidfile)}})
    lines_before = read_lines(d.audit, 1)
    other = tmp_path / "second"
    other.mkdir()
    conf = build_conf(other, d.port, upstream.server, {
        "server": {"pidfile": str(pidfile)},
        "log": {"blocked": str(other / "blocked.jsonl")}})
    r = run_second(conf)
    assert r.returncode == 1, r.stderr
    # the pidfile is locked by the first: refused before binding
    assert "is running already" in r.stderr and str(d.proc.pid) in \
        r.stderr, r.stderr
    # without the pidfile, the address in use is the reason
    conf = build_conf(other, d.port, upstream.server, {
        "log": {"blocked": str(other / "blocked.jsonl")}})
    r = run_second(conf)
    assert r.returncode == 1, r.stderr
    assert "127.0.0.1:%d" % d.port in r.stderr, r.stderr
    # the first one is untouched: its clients, its log, its pidfile
    assert d.alive()
    for i in range(20):         # each from a new source port
        q = make_query("n%d.binance.com" % i)
        assert_blocked_nxdomain(udp_query(d.port, q), "binance.com")
    _, blocks = wait_blocks(d.audit, 20)
    assert len(blocks) == 20
    assert read_lines(d.audit, 0, 0)[:len(lines_before)] == lines_before
    second_log = other / "blocked.jsonl"
    # at most the start and stop lines of the refused run
    assert not second_log.exists() or not block_records(
        read_lines(second_log, 0, 0))
    assert pidfile.exists(), "the refused cordond removed the pidfile " \
        "of the one running"
    assert pidfile.read_text() == "%d\n" % d.proc.pid


def test_second_daemon_on_same_audit_log_is_refused(start_cordond, upstream,
                                                    tmp_path):
    d = start_cordond()
    block(d, ["first.binance.com"])
    wait_blocks(d.audit, 1)
    before = read_lines(d.audit, 0, 0)
    other = tmp_path / "second"
    other.mkdir()
    conf = build_conf(other, free_port(), upstream.server, {
        "log": {"blocked": str(d.audit)}})
    r = run_second(conf)
    assert r.returncode == 1, r.stderr
    assert str(d.audit) in r.stderr, r.stderr
    assert "in use" in r.stderr, r.stderr
    # nothing of the second one in the log (no start-up event line)
    time.sleep(0.2)
    assert read_lines(d.audit, 0, 0) == before
    # after a rotation the new file is held the same way
    rotate(d, d.workdir / "blocked.jsonl.1")
    r = run_second(conf)
    assert r.returncode == 1, "second cordond accepted the rotated-to " \
        "log file:\n" + r.stderr
    block(d, ["after.binance.com"])
    _, blocks = wait_blocks(d.audit, 1)
    assert [b["qname"] for b in blocks] == ["after.binance.com"]
    verify_chain(before + read_lines(d.audit, 0, 0))
