"""[server] user and pidfile (PRODUCT.md, "Configuration"): started as
root, cordond binds, writes its pidfile and then runs as the user; it still
answers, blocks, logs, reloads and reopens its logs.

Needs root; as any other user the tests that drop privileges are skipped.
The user is "nobody" when it exists, otherwise one made for the test with
useradd (removed afterwards).  The daemon's files live in a directory of
their own under /tmp that the user can read (pytest's tmp_path is private
to root), so that reloads and log reopening work after the drop as they
would with /etc/cordon and a log directory owned by the user."""

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import (CORDOND, Cordond, build_conf, free_port,
                      require_program)
from helpers import (EXCHANGES, assert_blocked_nxdomain, assert_forwarded_a,
                     read_lines, verify_chain, wait_blocks)

IS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(
    not IS_ROOT, reason="dropping privileges needs root (running as uid "
    "%d)" % os.geteuid())
TEST_USER = "cordontest"


@pytest.fixture(scope="module")
def user():
    """(name, uid, gid) of an unprivileged user."""
    try:
        pw = pwd.getpwnam("nobody")
        yield pw.pw_name, pw.pw_uid, pw.pw_gid
        return
    except KeyError:
        pass
    if shutil.which("useradd") is None:
        pytest.skip("no user nobody and no useradd to make one")
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                    "/usr/sbin/nologin", TEST_USER], check=True,
                   capture_output=True, timeout=30)
    try:
        pw = pwd.getpwnam(TEST_USER)
        yield pw.pw_name, pw.pw_uid, pw.pw_gid
    finally:
        subprocess.run(["userdel", TEST_USER], capture_output=True,
                       timeout=30)


@pytest.fixture
def world(user):
    """A directory the user can read; its log/ folder the user owns."""
    top = Path(tempfile.mkdtemp(prefix="cordon-priv-"))
    os.chmod(top, 0o755)
    logs = top / "log"
    logs.mkdir()
    os.chown(logs, user[1], user[2])
    yield top
    shutil.rmtree(top, ignore_errors=True)


@pytest.fixture
def priv_cordond(request, world, user, upstream):
    """Starts cordond with [server] user and pidfile (root-owned folder
    for the pidfile, as /run is); stops it by PID at the end."""
    started = []

    def start(extra=None):
        port = free_port()
        overrides = {"server": {"user": user[0],
                                "pidfile": str(world / "cordond.pid")},
                     "log": {"blocked": str(world / "log" /
                                            "blocked.jsonl")}}
        for section, keys in (extra or {}).items():
            overrides.setdefault(section, {}).update(keys)
        conf = build_conf(world, port, upstream.server, overrides)
        for p in (world / "lists").iterdir():
            os.chmod(p, 0o644)
        os.chmod(conf, 0o644)
        d = Cordond(world, conf, port, tag="priv")
        d.audit = world / "log" / "blocked.jsonl"
        d.pidfile = world / "cordond.pid"
        started.append(d)
        request.node.cordon_procs = getattr(request.node, "cordon_procs",
                                            []) + [d]
        return d.start()

    yield start
    problems = []
    for d in started:
        was_running = d.alive()
        rc = d.stop()
        if was_running and rc != 0:
            problems.append("%s exited %r after SIGTERM" % (d.tag, rc))
    assert not problems, problems


def proc_ids(pid, task=None):
    """{Uid: [...], Gid: [...], Groups: [...], CapEff: str} of a process
    (or one of its threads)."""
    path = "/proc/%d/status" % pid if task is None else \
        "/proc/%d/task/%s/status" % (pid, task)
    out = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Uid", "Gid", "Groups"):
                out[key] = [int(x) for x in value.split()]
            elif key == "CapEff":
                out[key] = value.strip()
    return out


@needs_root
def test_runs_as_user_after_start(priv_cordond, user):
    d = priv_cordond()
    _, uid, gid = user
    want = {"Uid": [uid] * 4, "Gid": [gid] * 4, "Groups": [gid],
            "CapEff": "0000000000000000"}
    assert proc_ids(d.proc.pid) == want
    # every thread: workers, audit writer, loader
    tasks = os.listdir("/proc/%d/task" % d.proc.pid)
    assert len(tasks) >= 2
    for task in tasks:
        assert proc_ids(d.proc.pid, task) == want, "thread %s" % task
    assert d.pidfile.read_text() == "%d\n" % d.proc.pid
    assert_forwarded_a(d.udp("priv.test"), "priv.test")
    assert_forwarded_a(d.tcp("priv2.test"), "priv2.test")
    assert_blocked_nxdomain(d.udp("priv.binance.com"), "binance.com")
    lines, blocks = wait_blocks(d.audit, 1)
    assert [b["qname"] for b in blocks] == ["priv.binance.com"]
    verify_chain(lines)


@needs_root
def test_reload_and_log_reopen_work_after_the_drop(priv_cordond, world,
                                                   user):
    d = priv_cordond()
    (world / "lists" / "exchanges.domains").write_text(
        EXCHANGES + "later.example\n")
    os.kill(d.proc.pid, signal.SIGHUP)
    deadline = time.monotonic() + 3
    while d.udp("x.later.example").rcode() != 3:
        assert time.monotonic() < deadline, \
            "the reload as %s did not apply:\n%s" % (user[0], d.output())
        time.sleep(0.1)
    old = world / "log" / "blocked.jsonl.1"
    os.rename(d.audit, old)
    os.kill(d.proc.pid, signal.SIGUSR1)
    deadline = time.monotonic() + 2
    while not d.audit.exists():
        assert time.monotonic() < deadline, \
            "no new log after SIGUSR1 as %s:\n%s" % (user[0], d.output())
        time.sleep(0.02)
    assert d.audit.stat().st_uid == user[1]
    assert_blocked_nxdomain(d.udp("y.later.example"), "later.example")
    new, _ = wait_blocks(d.audit, 1)
    verify_chain(read_lines(old, 0, 0) + new)


@needs_root
def test_control_socket_with_user(priv_cordond, world, user):
    """The control socket is made for the user (mode 0660, owned by it)
    and `cordon ctl` reaches the daemon after the drop."""
    from conftest import CORDON
    sock = world / "ctl.sock"
    d = priv_cordond({"control": {"socket": str(sock)}})
    st = sock.stat()
    assert (st.st_uid, st.st_gid) == (user[1], user[2])
    assert st.st_mode & 0o777 == 0o660
    r = subprocess.run([CORDON, "ctl", "-s", str(sock), "reload"],
                       capture_output=True, text=True, timeout=15)
    assert r.returncode == 0, r.stderr


def test_unknown_user_refused_at_start(tmp_path, upstream):
    require_program(CORDOND)
    port = free_port()
    conf = build_conf(tmp_path, port, upstream.server,
                      {"server": {"user": "no-such-user-cordon"}})
    r = subprocess.run([CORDOND, "-f", "-c", str(conf)],
                       capture_output=True, text=True, timeout=10,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 1, r.stderr
    assert "no-such-user-cordon" in r.stderr, r.stderr
