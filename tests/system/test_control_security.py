"""The control socket against a hostile local user (issue 8): it is
created without following a link planted at its path, never replaces a
file that is not a socket, is mode 0660 from the start, and serves only
peers whose credentials (SO_PEERCRED) say root, the service user or the
daemon's own user.  /healthz says 503 when the daemon does not really
serve (the first version answered OK whatever the state)."""

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import conftest
from conftest import CORDON, CORDOND, build_conf

IS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not IS_ROOT,
                                reason="switching uid needs root")


@pytest.fixture
def sock_dir():
    """A short directory under /tmp, traversable by group root only."""
    d = Path(tempfile.mkdtemp(prefix="cctl-", dir="/tmp"))
    os.chmod(d, 0o750)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def run_fg(conf, timeout=10):
    """cordond -f that is expected to fail at start."""
    return subprocess.run([CORDOND, "-f", "-c", str(conf)],
                          capture_output=True, text=True, timeout=timeout)


def conf_with_socket(tmp_path, upstream, sock, extra=None):
    ov = {"control": {"socket": str(sock)}}
    ov.update(extra or {})
    return build_conf(tmp_path, conftest.free_port(), upstream.server, ov)


def test_symlink_at_the_socket_path_is_not_followed(tmp_path, upstream,
                                                    sock_dir):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    os.chmod(victim, 0o600)
    sock = sock_dir / "ctl.sock"
    os.symlink(victim, sock)
    r = run_fg(conf_with_socket(tmp_path, upstream, sock))
    assert r.returncode == 1, r.stderr
    assert "symbolic link" in r.stderr, r.stderr
    assert victim.read_text() == "precious\n"
    assert stat.S_IMODE(victim.stat().st_mode) == 0o600
    assert os.path.islink(sock), "the link was removed or replaced"


def test_a_file_at_the_socket_path_is_kept(tmp_path, upstream, sock_dir):
    sock = sock_dir / "ctl.sock"
    sock.write_text("not a socket\n")
    r = run_fg(conf_with_socket(tmp_path, upstream, sock))
    assert r.returncode == 1
    assert "not a socket" in r.stderr, r.stderr
    assert sock.read_text() == "not a socket\n"


def test_stale_socket_is_replaced_and_mode_is_0660(start_cordond, sock_dir):
    sock = sock_dir / "ctl.sock"
    d = start_cordond({"control": {"socket": str(sock)}})
    d.proc.send_signal(signal.SIGKILL)      # leaves the socket behind
    d.proc.wait(5)
    d.returncode = 0
    assert stat.S_ISSOCK(os.lstat(sock).st_mode)
    d2 = start_cordond({"control": {"socket": str(sock)}}, tag="again")
    st = os.lstat(sock)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o660, oct(st.st_mode)
    r = subprocess.run([CORDON, "ctl", "-s", str(sock), "stats"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and r.stdout.startswith("ok"), r.stderr
    assert d2.alive()


CLIENT = r"""
import os, socket, sys
os.setgroups([0])
os.setgid(0)
os.setuid(int(sys.argv[2]))
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(sys.argv[1])
if sys.argv[3:]:
    s.sendall(sys.argv[3].encode() + b"\n")
data = b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode())
"""


@needs_root
def test_peer_credentials_are_checked(start_cordond, sock_dir):
    """A local user who can reach the socket (here through group root)
    is still refused: its uid is neither root nor the daemon's user."""
    sock = sock_dir / "ctl.sock"
    d = start_cordond({"control": {"socket": str(sock)}})
    r = subprocess.run([sys.executable, "-c", CLIENT, str(sock), "12345"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("error: permission denied for uid 12345"), \
        r.stdout
    deadline = time.monotonic() + 3
    while "refused uid 12345" not in d.output():
        assert time.monotonic() < deadline, d.output()
        time.sleep(0.05)
    # root still may
    r = subprocess.run([sys.executable, "-c", CLIENT, str(sock), "0",
                        "flush"],
                       capture_output=True, text=True, timeout=10)
    assert r.stdout.startswith("ok cache flushed"), r.stdout


def test_root_without_user_warns_once(start_cordond):
    d = start_cordond()
    n = d.output().count("running as root")
    assert n == (1 if IS_ROOT else 0), d.output()


# ---- /healthz ----

def healthz(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port,
                                    timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_healthz_ok_when_serving(start_cordond):
    port = conftest.free_port()
    start_cordond({"control": {"http": "127.0.0.1:%d" % port}})
    assert healthz(port) == (200, "ok\n")


@needs_root
def test_healthz_503_when_the_audit_log_cannot_be_written(start_cordond,
                                                          tmp_path):
    """The audit log on a full file system: blocked attempts no longer
    reach the disk, and /healthz must say so."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs",
                        str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs: " + r.stderr)
    try:
        port = conftest.free_port()
        d = start_cordond({"control": {"http": "127.0.0.1:%d" % port},
                           "log": {"blocked": str(mnt / "blocked.jsonl"),
                                   "client_rate": "0"}})
        assert healthz(port)[0] == 200
        # fill the file system, then block until a write fails
        fd = os.open(mnt / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                os.write(fd, b"x" * 4096)
        except OSError:
            pass
        finally:
            os.close(fd)
        deadline = time.monotonic() + 10
        i = 0
        while True:
            for _ in range(20):
                d.udp("h%d.binance.com" % i)
                i += 1
            status, body = healthz(port)
            if status == 503:
                break
            assert time.monotonic() < deadline, (status, body)
            time.sleep(0.05)
        assert "audit log" in body and "No space left" in body, body
        # room again: healthy again once a batch is written
        os.unlink(mnt / "filler")
        deadline = time.monotonic() + 10
        while healthz(port)[0] != 200:
            d.udp("again%d.binance.com" % i)
            i += 1
            assert time.monotonic() < deadline
            time.sleep(0.05)
        d.stop()
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
