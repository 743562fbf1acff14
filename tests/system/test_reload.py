"""Reloading the policy on SIGHUP and `cordon ctl reload`: the new lists
apply without dropping a query, an event line records the new policy, and
a reload that fails keeps the old policy and says why (PRODUCT.md,
"Sources manifest", "Audit log", "The cordon tool": `cordon ctl reload`).

The load tests ask cordond ~200 queries a second over UDP from one socket
of their own while the lists are swapped: a name that was allowed becomes
blocked and one that was blocked becomes allowed.  Every query must be
answered, none with SERVFAIL, and each swapped name must change its
answer exactly once (the swap is atomic: no query sees a mix)."""

import json
import os
import select
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import dns.flags
import dns.message
import pytest

from conftest import CORDON, free_port, require_program
from helpers import (EXCHANGES, MANIFEST, assert_blocked_nxdomain,
                     assert_forwarded_a, make_query, rcode_text, read_lines,
                     soa_of, udp_query, udp_raw, verify_chain, wait_blocks)
from test_control import (control_overrides, ctl, metrics, metrics_until,
                          series, short_dir)  # noqa: F401 (fixture)

LOAD_RATE = 200         # queries a second
LOAD_SECONDS = 4.0
RELOAD_AFTER = 1.2      # seconds into the load

# A list of its own to swap: SWAP_BEFORE blocks swap-b, SWAP_AFTER swap-a.
SWAP_MANIFEST = MANIFEST + """
[source swap]
file = swap.domains
format = domains
category = swapped
kind = block
"""
SWAP_BEFORE = "swap-b.reload.test\n"
SWAP_AFTER = "swap-a.reload.test\n"
SWAP_FILES = {"sources.ini": SWAP_MANIFEST, "swap.domains": SWAP_BEFORE}

BLOCKED = "load.binance.com"
CACHED = ["c%d.reload.test" % i for i in range(3)]
BECOMES_BLOCKED = "swap-a.reload.test"
BECOMES_ALLOWED = "swap-b.reload.test"
LOAD_NAMES = [BLOCKED, BECOMES_BLOCKED, BECOMES_ALLOWED] + CACHED


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
    """The policy event lines of the audit log, once there are at_least
    of them (or timeout passed)."""
    deadline = time.monotonic() + timeout
    while True:
        events = [json.loads(ln) for ln in read_lines(path, 0, 0)
                  if '"event":"policy"' in ln]
        if len(events) >= at_least or time.monotonic() >= deadline:
            return events
        time.sleep(0.02)


def wait_record(path, qname, timeout=2.0):
    """The last blocked-attempt record for qname, once there is one (None
    after timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        _, blocks = wait_blocks(path, 0, 0)
        found = [b for b in blocks if b["qname"] == qname]
        if found or time.monotonic() >= deadline:
            return found[-1] if found else None
        time.sleep(0.02)


def write_atomically(path, text):
    """Replaces path the way an admin's tool should: write, then rename."""
    tmp = Path(str(path) + ".new")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class Load(threading.Thread):
    """Asks names (cycled) over UDP at rate queries a second for seconds,
    from one socket, each query with its own ID; collects every answer.
    Bounded: rate * seconds queries, then at most 3 s for late answers."""

    def __init__(self, port, names, rate=LOAD_RATE, seconds=LOAD_SECONDS):
        super().__init__(daemon=True)
        self.port = port
        self.names = names
        self.total = int(rate * seconds)
        assert self.total < 65536
        self.interval = 1.0 / rate
        self.sent = []          # index -> qname
        self.answers = {}       # index -> rcode text
        self.problems = []      # answers that do not fit their query
        self.error = None

    def run(self):
        try:
            self._run()
        except Exception as e:          # reported by check()
            self.error = repr(e)

    def _receive(self, sock, wait):
        ready, _, _ = select.select([sock], [], [], max(wait, 0))
        while ready:
            data = sock.recv(65535)
            self._take(data)
            ready, _, _ = select.select([sock], [], [], 0)

    def _take(self, data):
        (qid,) = struct.unpack("!H", data[:2])
        try:
            resp = dns.message.from_wire(data)
        except Exception as e:
            self.problems.append("ID %d: unparseable answer: %r" % (qid, e))
            return
        if qid >= len(self.sent):
            self.problems.append("answer with unknown ID %d" % qid)
            return
        want = self.sent[qid]
        got = str(resp.question[0].name).rstrip(".") if resp.question \
            else None
        if got != want:
            self.problems.append("ID %d: asked %s, answer for %s" % (
                qid, want, got))
        if qid in self.answers:
            self.problems.append("ID %d answered twice" % qid)
        self.answers[qid] = rcode_text(resp)

    def _run(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            sock.connect(("127.0.0.1", self.port))
            start = time.monotonic()
            for i in range(self.total):
                name = self.names[i % len(self.names)]
                self.sent.append(name)
                sock.send(make_query(name, "A", qid=i).to_wire())
                next_send = start + (i + 1) * self.interval
                while True:
                    left = next_send - time.monotonic()
                    if left <= 0:
                        break
                    self._receive(sock, left)
            deadline = time.monotonic() + 3.0
            while len(self.answers) < self.total and \
                    time.monotonic() < deadline:
                self._receive(sock, deadline - time.monotonic())

    def by_name(self, name):
        """Rcodes for name in the order the queries were sent (None for a
        query never answered)."""
        return [self.answers.get(i) for i, n in enumerate(self.sent)
                if n == name]

    def check(self, changed=True):
        """Asserts every query was answered, none with SERVFAIL, and that
        the swapped names changed their answer once (changed) or never."""
        self.join(LOAD_SECONDS + 10)
        assert not self.is_alive(), "load thread did not finish"
        assert self.error is None, self.error
        assert len(self.sent) == self.total
        lost = [i for i in range(self.total) if i not in self.answers]
        assert not lost, "%d of %d queries unanswered (first IDs %r)" % (
            len(lost), self.total, lost[:10])
        assert not self.problems, self.problems[:10]
        servfail = [i for i, rc in self.answers.items() if rc == "SERVFAIL"]
        assert not servfail, "%d SERVFAIL answers" % len(servfail)
        assert set(self.by_name(BLOCKED)) == {"NXDOMAIN"}
        for name in CACHED:
            assert set(self.by_name(name)) == {"NOERROR"}, name
        for name, before, after in ((BECOMES_BLOCKED, "NOERROR", "NXDOMAIN"),
                                    (BECOMES_ALLOWED, "NXDOMAIN", "NOERROR")):
            seq = self.by_name(name)
            if not changed:
                assert set(seq) == {before}, (name, seq)
                continue
            n = seq.index(after) if after in seq else len(seq)
            assert n > 0 and seq[:n] == [before] * n and \
                seq[n:] == [after] * (len(seq) - n) and n < len(seq), (
                    "%s: want %s then %s once, got %s" % (
                        name, before, after, compress(seq)))


def compress(seq):
    """["A", "A", "B"] -> "A x2, B x1" for messages."""
    out = []
    for rc in seq:
        if out and out[-1][0] == rc:
            out[-1][1] += 1
        else:
            out.append([rc, 1])
    return ", ".join("%s x%d" % (rc, n) for rc, n in out)


@pytest.fixture
def swap_cordond(start_cordond, short_dir):
    """cordond with the swap list, a control socket and /metrics; the
    load names warmed up (allowed ones cached)."""
    http_port = free_port()
    d = start_cordond(control_overrides(short_dir, http_port),
                      list_files=SWAP_FILES)
    d.sock = short_dir / "ctl.sock"
    d.http = http_port
    d.swap = d.workdir / "lists" / "swap.domains"
    for name in CACHED + [BECOMES_BLOCKED]:
        assert_forwarded_a(d.udp(name), name)
    assert_blocked_nxdomain(d.udp(BECOMES_ALLOWED), BECOMES_ALLOWED)
    assert_blocked_nxdomain(d.udp(BLOCKED), "binance.com")
    return d


def reload_by(d, how):
    """Asks for a reload by signal or through the control socket; returns
    the ctl result (None for the signal)."""
    if how == "signal":
        os.kill(d.proc.pid, signal.SIGHUP)
        return None
    require_program(CORDON)
    return ctl(d.sock, "reload")


@pytest.mark.parametrize("how", ["signal", "control"])
def test_reload_under_load_swaps_list_without_losing_a_query(swap_cordond,
                                                             how):
    d = swap_cordond
    old = policy_events(d.audit, 1)
    assert len(old) == 1 and old[0]["by"] == "start", old
    load = Load(d.port, LOAD_NAMES)
    load.start()
    time.sleep(RELOAD_AFTER)
    write_atomically(d.swap, SWAP_AFTER)
    r = reload_by(d, how)
    events = policy_events(d.audit, 2, timeout=3.0)
    load.check(changed=True)

    if r is not None:
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("ok "), r.stdout
    assert len(events) == 2, events
    new = events[1]
    assert new["event"] == "policy"
    assert new["by"] == how
    assert new["previous"] == old[0]["policy"]
    assert new["policy"] != old[0]["policy"]
    # one name swapped for another: the same counts
    for key in ("entries", "ranges", "lists"):
        assert new[key] == old[0][key], key
    if r is not None:
        assert new["policy"] in r.stdout and old[0]["policy"] in r.stdout

    # the new policy is in force: in answers, in the log, in /metrics
    assert_blocked_nxdomain(d.udp("x." + BECOMES_BLOCKED), BECOMES_BLOCKED)
    assert_forwarded_a(d.udp("x." + BECOMES_ALLOWED),
                       "x." + BECOMES_ALLOWED)
    last = wait_record(d.audit, "x." + BECOMES_BLOCKED)
    assert last is not None, "no audit line for x." + BECOMES_BLOCKED
    assert (last["list"], last["rule"], last["policy"]) == (
        "swap", BECOMES_BLOCKED, new["policy"])
    verify_chain(read_lines(d.audit, 0, 0))
    m = metrics(d.http)
    assert m.get(series("cordon_policy_info", policy=new["policy"])) == 1
    assert m[series("cordon_reloads_total", result="ok")] == 1
    assert m[series("cordon_reloads_total", result="failed")] == 0


def test_failed_reload_under_load_keeps_policy_and_says_why(swap_cordond):
    d = swap_cordond
    old = policy_events(d.audit, 1)
    assert old, "no start-up event line"
    base = metrics(d.http)
    assert base[series("cordon_reloads_total", result="failed")] == 0
    # the manifest names a file that is not there, and the swap list
    # changed: nothing of the new lists may apply
    manifest = d.workdir / "lists" / "sources.ini"
    write_atomically(manifest, SWAP_MANIFEST.replace(
        "file = swap.domains", "file = missing.domains"))
    write_atomically(d.swap, SWAP_AFTER)
    load = Load(d.port, LOAD_NAMES, seconds=3.0)
    load.start()
    time.sleep(RELOAD_AFTER)
    r = ctl(d.sock, "reload")
    load.check(changed=False)

    assert r.returncode == 1, (r.stdout, r.stderr)
    assert r.stdout == ""
    assert r.stderr.startswith("error: "), r.stderr
    assert "missing.domains" in r.stderr, r.stderr
    assert old[0]["policy"] in r.stderr, "the reply names the policy kept"
    m = metrics(d.http)
    assert m[series("cordon_reloads_total", result="failed")] == 1
    assert m[series("cordon_reloads_total", result="ok")] == 0
    assert m.get(series("cordon_policy_info", policy=old[0]["policy"])) == 1
    assert policy_events(d.audit, 2, timeout=0.5) == old
    assert "missing.domains" in Path(d.errfile).read_text()

    # SIGHUP fails the same way and is counted too
    os.kill(d.proc.pid, signal.SIGHUP)
    m = metrics_until(d.http, {
        series("cordon_reloads_total", result="failed"): 2})
    assert m[series("cordon_reloads_total", result="failed")] == 2
    assert_blocked_nxdomain(d.udp("y." + BECOMES_ALLOWED), BECOMES_ALLOWED)
    assert_forwarded_a(d.udp("y." + BECOMES_BLOCKED), "y." + BECOMES_BLOCKED)

    # fixed: the next reload applies
    write_atomically(manifest, SWAP_MANIFEST)
    r = ctl(d.sock, "reload")
    assert r.returncode == 0, r.stderr
    assert_blocked_nxdomain(d.udp("z." + BECOMES_BLOCKED), BECOMES_BLOCKED)
    events = policy_events(d.audit, 2)
    assert len(events) == 2 and events[1]["by"] == "control"
    assert events[1]["previous"] == old[0]["policy"]


def compile_policy(manifest, outdir):
    require_program(CORDON)
    r = subprocess.run([CORDON, "compile", str(manifest), "-o",
                        str(outdir)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    return Path(outdir) / "policy.cpol"


@pytest.fixture
def cpol_cordond(start_cordond, short_dir, tmp_path):
    """cordond loading a compiled snapshot of the swap lists."""
    from conftest import write_lists
    manifest = write_lists(tmp_path / "src", SWAP_FILES)
    cpol = compile_policy(manifest, tmp_path / "compiled")
    http_port = free_port()
    overrides = control_overrides(short_dir, http_port)
    overrides["policy"] = {"lists": str(cpol)}
    d = start_cordond(overrides)
    d.sock = short_dir / "ctl.sock"
    d.http = http_port
    d.cpol = cpol
    d.src = manifest
    assert_blocked_nxdomain(d.udp(BECOMES_ALLOWED), BECOMES_ALLOWED)
    assert_forwarded_a(d.udp(BECOMES_BLOCKED), BECOMES_BLOCKED)
    return d


def assert_old_policy_in_force(d, stem):
    assert_blocked_nxdomain(d.udp(stem + "." + BECOMES_ALLOWED),
                            BECOMES_ALLOWED)
    assert_forwarded_a(d.udp(stem + "." + BECOMES_BLOCKED),
                       stem + "." + BECOMES_BLOCKED)
    assert_blocked_nxdomain(d.udp(stem + ".binance.com"), "binance.com")


def test_reload_of_compiled_snapshot_applies(cpol_cordond, tmp_path):
    d = cpol_cordond
    (d.src.parent / "swap.domains").write_text(SWAP_AFTER)
    compile_policy(d.src, d.cpol.parent)    # writes a new file, renames
    r = ctl(d.sock, "reload")
    assert r.returncode == 0, r.stderr
    assert_blocked_nxdomain(d.udp("n." + BECOMES_BLOCKED), BECOMES_BLOCKED)
    assert_forwarded_a(d.udp("n." + BECOMES_ALLOWED), "n." + BECOMES_ALLOWED)


def test_failed_reload_of_truncated_snapshot_keeps_policy(cpol_cordond,
                                                          tmp_path):
    d = cpol_cordond
    old = policy_events(d.audit, 1)
    (d.src.parent / "swap.domains").write_text(SWAP_AFTER)
    fresh = compile_policy(d.src, tmp_path / "fresh")
    data = fresh.read_bytes()
    # a copy cut short, put in place with a rename (the running daemon's
    # file is not touched)
    write_bytes = tmp_path / "cut.cpol"
    write_bytes.write_bytes(data[:len(data) // 2])
    os.replace(write_bytes, d.cpol)
    r = ctl(d.sock, "reload")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert r.stderr.startswith("error: ") and "policy.cpol" in r.stderr, \
        r.stderr
    assert_old_policy_in_force(d, "t")
    m = metrics(d.http)
    assert m[series("cordon_reloads_total", result="failed")] == 1
    assert m[series("cordon_reloads_total", result="ok")] == 0
    assert policy_events(d.audit, 2, timeout=0.5) == old
    # a snapshot whose bytes were changed (same length) fails too
    bad = bytearray(data)
    bad[len(bad) - 10] ^= 0xff
    write_bytes.write_bytes(bytes(bad))
    os.replace(write_bytes, d.cpol)
    r = ctl(d.sock, "reload")
    assert r.returncode == 1 and "policy.cpol" in r.stderr, r.stderr
    assert_old_policy_in_force(d, "u")
    assert metrics(d.http)[series("cordon_reloads_total",
                                  result="failed")] == 2


def test_snapshot_truncated_in_place_keeps_serving(cpol_cordond):
    """An admin who truncates or cp(1)s over the snapshot in force changes
    the file the daemon loaded it from, in place.  The running policy must
    not depend on that file's bytes: the daemon keeps answering with the
    old policy and the reload fails."""
    d = cpol_cordond
    size = d.cpol.stat().st_size
    os.truncate(d.cpol, size // 2)
    for name in ("v." + BECOMES_ALLOWED, "v." + BECOMES_BLOCKED,
                 "v.binance.com", "v.json-two.example"):
        data = udp_raw(d.port, make_query(name).to_wire(), timeout=1.0)
        rc = d.proc.poll()
        assert rc is None, "cordond died (exit %r%s) answering %s after " \
            "its snapshot file was truncated in place" % (
                rc, " = SIGBUS" if rc == -signal.SIGBUS else "", name)
        assert data is not None, "no answer for %s" % name
    assert_old_policy_in_force(d, "w")
    r = ctl(d.sock, "reload")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert_old_policy_in_force(d, "x")


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


def rewrite_conf(d, old, new):
    """Replaces one line of d's cordon.conf (write, then rename)."""
    text = d.conf.read_text()
    assert old in text, text
    write_atomically(d.conf, text.replace(old, new, 1))


@pytest.fixture
def ctl_cordond(start_cordond, short_dir):
    """cordond with a control socket (.sock)."""
    d = start_cordond(control_overrides(short_dir, free_port()))
    d.sock = short_dir / "ctl.sock"
    return d


def test_reload_names_the_keys_only_a_restart_applies(ctl_cordond):
    """[server] ratelimit and [upstream] timeout are read at start: a
    reload that finds them changed keeps them and says a restart is
    needed, in its reply and in the log."""
    d = ctl_cordond
    rewrite_conf(d, "[server]\n", "[server]\nratelimit = 1\n")
    rewrite_conf(d, "timeout = 1s\n", "timeout = 1500ms\n")
    seen = len(d.errfile.read_bytes())
    r = ctl(d.sock, "reload")
    assert r.returncode == 0, r.stderr
    note = ("[server] ratelimit, [upstream] timeout changed: restart to "
            "apply it")
    assert r.stdout.startswith("ok ") and ("; " + note) in r.stdout, (
        r.stdout)
    said = d.errfile.read_bytes()[seen:].decode(errors="replace")
    assert ("reload: [server] ratelimit, [upstream] timeout changed in %s: "
            "restart to apply it" % d.conf) in said, said
    # ratelimit = 1 is not in force: a burst is answered in full
    for i in range(10):
        resp = d.udp("r%d.binance.com" % i, "A")
        assert rcode_text(resp) == "NXDOMAIN", resp
        assert not resp.flags & dns.flags.TC, resp


def test_reload_applies_policy_ttl_without_a_restart_note(ctl_cordond):
    """[policy] ttl comes with the policy: after the reload blocked
    answers carry the new TTL, and nothing asks for a restart."""
    d = ctl_cordond
    assert soa_of(d.udp("t1.binance.com", "A")).ttl == 60
    rewrite_conf(d, "[policy]\n", "[policy]\nttl = 123\n")
    seen = len(d.errfile.read_bytes())
    r = ctl(d.sock, "reload")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ok ") and "restart" not in r.stdout, (
        r.stdout)
    resp = d.udp("t2.binance.com", "A")
    assert_blocked_nxdomain(resp, "binance.com")
    assert soa_of(resp).ttl == 123, resp
    said = d.errfile.read_bytes()[seen:].decode(errors="replace")
    assert "restart" not in said, said
