"""Fixtures for cordon's system tests.

`upstream` is the stub upstream (upstream.py): one process per session on
a free loopback port; each test counts only the queries logged since it
began.  `start_cordond(overrides)` writes a cordon.conf plus the default lists
into the test's tmp_path and starts the real `cordond -f -c CONF` on
another free port, waits until it answers, and stops it by PID at the end
(SIGTERM, SIGKILL after 5 s), asserting it exited 0.  The output of every
process a failed test started is attached to the report.

CORDOND and CORDON override the paths of the programs under test.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import helpers

HERE = Path(__file__).resolve().parent
TOP = HERE.parents[1]
CORDOND = os.environ.get("CORDOND") or str(TOP / "daemon" / "cordond")
CORDON = os.environ.get("CORDON") or str(TOP / "daemon" / "cordon")
PYTHON = sys.executable
UPSTREAM = str(HERE / "upstream.py")
READY_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0

_handed_out = set()


def ipv6_available():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def free_port(addrs=("127.0.0.1",)):
    """A port free for UDP and TCP on every address in addrs, never handed
    out twice in one session."""
    for _ in range(100):
        socks = []
        try:
            first = socket.socket(helpers.family_of(addrs[0]),
                                  socket.SOCK_DGRAM)
            socks.append(first)
            first.bind((addrs[0], 0))
            port = first.getsockname()[1]
            if port in _handed_out:
                continue
            for addr in addrs:
                for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    if addr == addrs[0] and kind == socket.SOCK_DGRAM:
                        continue
                    s = socket.socket(helpers.family_of(addr), kind)
                    socks.append(s)
                    s.bind((addr, port))
            _handed_out.add(port)
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port found")


def require_program(path):
    if not os.access(path, os.X_OK):
        pytest.fail("%s is not built (run ./configure && make, or set "
                    "CORDOND/CORDON)" % path, pytrace=False)


def stop_pid(proc, timeout=STOP_TIMEOUT):
    """SIGTERM, then SIGKILL after timeout.  Returns (exit code, killed)."""
    if proc.poll() is not None:
        return proc.returncode, False
    os.kill(proc.pid, signal.SIGTERM)
    try:
        return proc.wait(timeout), False
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        return proc.wait(timeout), True


def tail(path, limit=6000):
    try:
        data = Path(path).read_text(errors="replace")
    except OSError:
        return "(no %s)" % path
    return data[-limit:]


class Upstream:
    """The stub upstream as a subprocess."""

    def __init__(self, workdir, address="127.0.0.1", name="upstream"):
        self.address = address
        self.label = name
        self.port = free_port((address,))
        self.log = Path(workdir) / ("%s-queries.log" % name)
        self.errfile = Path(workdir) / ("%s.stderr" % name)
        self.proc = None
        self.offset = 0     # queries() reads the log from here on

    @property
    def server(self):
        if ":" in self.address:
            return "[%s]:%d" % (self.address, self.port)
        return "%s:%d" % (self.address, self.port)

    def start(self):
        """Spawns the stub; wait_ready() waits for its "ready" line."""
        with open(self.errfile, "wb") as err:
            self.proc = subprocess.Popen(
                [PYTHON, UPSTREAM, "--port", str(self.port), "--address",
                 self.address, "--log", str(self.log)],
                stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.ready = False
        return self

    def wait_ready(self):
        if self.ready:
            return self
        deadline = time.monotonic() + READY_TIMEOUT
        buf = b""
        while time.monotonic() < deadline:
            chunk = self.proc.stdout.read()
            if chunk:
                buf += chunk
            if b"ready" in buf:
                self.ready = True
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.01)
        self.stop()
        pytest.fail("upstream did not start:\n" + tail(self.errfile),
                    pytrace=False)

    def stop(self):
        if self.proc is not None:
            stop_pid(self.proc)
            self.proc.stdout.close()

    def mark(self):
        """Forgets the queries logged so far (each test starts afresh)."""
        try:
            self.offset = self.log.stat().st_size
        except FileNotFoundError:
            self.offset = 0

    def queries(self):
        """[(qname, qtype, proto)] in arrival order since mark()."""
        try:
            with open(self.log, "rb") as f:
                f.seek(self.offset)
                text = f.read().decode("ascii", "replace")
        except FileNotFoundError:
            return []
        return [tuple(ln.split()) for ln in text.splitlines() if ln]

    def count(self, qname, qtype=None):
        """How many queries for qname (any case, final dot optional) and
        qtype (any when None) reached the stub."""
        want = qname.lower().rstrip(".") + "."
        return sum(1 for q in self.queries()
                   if q[0] == want and (qtype is None or q[1] == qtype))

    def output(self):
        return tail(self.errfile)


def write_lists(directory, files=None):
    """Writes the default lists and sources.ini (helpers.LIST_FILES,
    updated with files: name -> text, or None to leave one out).
    Returns the manifest path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    content = dict(helpers.LIST_FILES)
    content.update(files or {})
    for name, text in content.items():
        if text is not None:
            (directory / name).write_text(text, encoding="utf-8")
    return directory / "sources.ini"


def conf_sections(workdir, port, upstream_servers, manifest):
    """The default configuration as {section: {key: value}}."""
    return {
        "server": {
            "listen": "127.0.0.1:%d" % port,
            "threads": "1",
            "allow": "127.0.0.0/8, ::1/128",
        },
        "upstream": {
            "servers": upstream_servers,
            "timeout": "1s",
            "cache_size": "10000",
        },
        "policy": {
            "lists": str(manifest),
            "action": "nxdomain",
        },
        "log": {
            "blocked": str(Path(workdir) / "blocked.jsonl"),
        },
    }


def render_conf(sections):
    out = []
    for section, keys in sections.items():
        out.append("[%s]" % section)
        for key, value in keys.items():
            if value is not None:
                out.append("%s = %s" % (key, value))
        out.append("")
    return "\n".join(out)


def build_conf(workdir, port, upstream_servers, overrides=None,
               list_files=None, name="cordon.conf"):
    """Writes the lists and a cordon.conf into workdir and returns its
    path.  overrides is {section: {key: value}}; a value of None removes
    the key."""
    workdir = Path(workdir)
    manifest = write_lists(workdir / "lists", list_files)
    sections = conf_sections(workdir, port, upstream_servers, manifest)
    for section, keys in (overrides or {}).items():
        target = sections.setdefault(section, {})
        for key, value in keys.items():
            if value is None:
                target.pop(key, None)
            else:
                target[key] = value
    path = workdir / name
    path.write_text(render_conf(sections))
    return path


class Cordond:
    """One cordond process serving on 127.0.0.1:port (and maybe ::1)."""

    def __init__(self, workdir, conf, port, tag="cordond"):
        self.workdir = Path(workdir)
        self.conf = Path(conf)
        self.port = port
        self.tag = self.label = tag
        self.audit = self.workdir / "blocked.jsonl"
        self.outfile = self.workdir / ("%s.stdout" % tag)
        self.errfile = self.workdir / ("%s.stderr" % tag)
        self.proc = None
        self.returncode = None

    def start(self, ready_addr="127.0.0.1", before_probe=None):
        require_program(CORDOND)
        with open(self.outfile, "ab") as out, open(self.errfile, "ab") as err:
            self.proc = subprocess.Popen(
                [CORDOND, "-f", "-c", str(self.conf)], stdout=out,
                stderr=err, stdin=subprocess.DEVNULL, cwd=self.workdir)
        if before_probe:
            before_probe()
        self.wait_ready(ready_addr)
        return self

    def wait_ready(self, addr, timeout=READY_TIMEOUT):
        """Waits until any answer to a probe query comes back.  One socket
        for every probe, so a late answer (e.g. SERVFAIL after the
        upstream timeout) still counts."""
        probe = helpers.make_query("ready.probe.test", "A").to_wire()
        deadline = time.monotonic() + timeout
        with socket.socket(helpers.family_of(addr), socket.SOCK_DGRAM) as s:
            s.settimeout(0.05)
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    pytest.fail("cordond exited with %d at start:\n%s" % (
                        self.proc.returncode, self.output()), pytrace=False)
                s.sendto(probe, (addr, self.port))
                try:
                    s.recvfrom(65535)
                    return
                except (socket.timeout, ConnectionRefusedError):
                    pass
        self.stop()
        pytest.fail("cordond did not answer within %.0fs:\n%s" % (
            timeout, self.output()), pytrace=False)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM (then SIGKILL); returns and remembers the exit code."""
        if self.proc is None:
            return None
        if self.returncode is None:
            self.returncode, self.killed = stop_pid(self.proc)
        return self.returncode

    def output(self):
        return "--- stdout\n%s\n--- stderr\n%s" % (tail(self.outfile),
                                                   tail(self.errfile))

    # Client shortcuts.
    def udp(self, qname, rdtype="A", addr="127.0.0.1", timeout=2.0, **kw):
        return helpers.udp_query(self.port, helpers.make_query(
            qname, rdtype, **kw), addr, timeout)

    def tcp(self, qname, rdtype="A", addr="127.0.0.1", timeout=2.0, **kw):
        return helpers.tcp_query(self.port, helpers.make_query(
            qname, rdtype, **kw), addr, timeout)

    def audit_lines(self, count, timeout=2.0):
        return helpers.read_lines(self.audit, count, timeout)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for proc in getattr(item, "cordon_procs", []):
            rep.sections.append(("%s output" % proc.label, proc.output()))


def _register(request, proc):
    if not hasattr(request.node, "cordon_procs"):
        request.node.cordon_procs = []
    request.node.cordon_procs.append(proc)


@pytest.fixture(scope="session")
def _session_upstream(tmp_path_factory):
    """One stub upstream for the whole session: it keeps no state between
    queries, and each test counts only the queries logged since it began
    (every test starts its own cordond, so no cache is shared)."""
    up = Upstream(tmp_path_factory.mktemp("upstream"))
    up.start()
    yield up
    up.stop()


@pytest.fixture
def upstream(request, _session_upstream):
    up = _session_upstream
    up.wait_ready()
    if up.proc.poll() is not None:
        pytest.fail("the stub upstream died:\n" + up.output(),
                    pytrace=False)
    up.mark()
    _register(request, up)
    return up


@pytest.fixture
def start_cordond(request, tmp_path, upstream):
    """Factory: start_cordond(overrides=None, list_files=None, tag=...,
    servers=None, listen_v6=False) -> a running Cordond.  At teardown each
    daemon still running gets SIGTERM and must exit 0."""
    started = []

    def start(overrides=None, list_files=None, tag=None, servers=None,
              listen_v6=False, workdir=None, port=None):
        tag = tag or "cordond%d" % (len(started) + 1)
        workdir = Path(workdir or tmp_path)
        addrs = ("127.0.0.1", "::1") if listen_v6 else ("127.0.0.1",)
        port = port or free_port(addrs)
        overrides = dict(overrides or {})
        if listen_v6:
            server = dict(overrides.get("server", {}))
            server.setdefault("listen", "127.0.0.1:%d, [::1]:%d" % (
                port, port))
            overrides["server"] = server
        conf = build_conf(workdir, port, servers or upstream.server,
                          overrides, list_files, name=tag + ".conf")
        d = Cordond(workdir, conf, port, tag)
        logs = overrides.get("log", {})
        if logs.get("blocked"):
            d.audit = Path(logs["blocked"])
        _register(request, d)
        started.append(d)
        return d.start(before_probe=upstream.wait_ready)

    yield start
    problems = []
    for d in started:
        was_running = d.returncode is None and d.alive()
        rc = d.stop()
        if was_running and rc != 0:
            problems.append("%s exited %r after SIGTERM%s" % (
                d.tag, rc, " (SIGKILL needed)" if getattr(
                    d, "killed", False) else ""))
    assert not problems, "; ".join(problems)


@pytest.fixture
def cordond(start_cordond):
    """cordond with the default configuration."""
    return start_cordond()
