"""Upstreams that refuse: a closed port (ICMP port unreachable), one that
answers TC over UDP and then resets or refuses TCP, one that answers
REFUSED, and one restarted under cordond.  Each client query must cost
a bounded number of upstream packets (issue 8: the first version sent
45,000 in one second and burned a core), the client gets SERVFAIL with
an EDE saying why, and a server that comes back is used again.
"""

import os
import subprocess
import time
from pathlib import Path

import dns.rcode

import conftest
from helpers import ede_list, make_query, metrics, udp_query

HERE = Path(__file__).resolve().parent
REFUSING = str(HERE / "refusing_upstream.py")
HOLD_MAX_S = 4.0


def cpu_seconds(pid):
    """utime + stime of pid, in seconds (/proc/PID/stat)."""
    fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1]
    f = fields.split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def closed_port():
    """A UDP and TCP port on 127.0.0.1 that nothing listens on."""
    return conftest.free_port()


class Refusing:
    """refusing_upstream.py as a subprocess."""

    def __init__(self, workdir, port=None, no_tcp=False):
        self.port = port or conftest.free_port()
        self.log = Path(workdir) / ("refusing-%d.log" % self.port)
        self.err = Path(workdir) / ("refusing-%d.stderr" % self.port)
        self.label = "refusing upstream"
        args = [conftest.PYTHON, REFUSING, "--port", str(self.port),
                "--log", str(self.log)]
        if no_tcp:
            args.append("--no-tcp")
        with open(self.err, "wb") as err:
            self.proc = subprocess.Popen(args, stdout=subprocess.PIPE,
                                         stderr=err,
                                         stdin=subprocess.DEVNULL)
        line = self.proc.stdout.readline()
        assert line.startswith(b"ready"), self.output()
        self.server = "127.0.0.1:%d" % self.port

    def counts(self):
        try:
            lines = self.log.read_text().splitlines()
        except FileNotFoundError:
            lines = []
        return (sum(1 for ln in lines if ln.startswith("udp ")),
                sum(1 for ln in lines if ln == "tcp"))

    def output(self):
        return conftest.tail(self.err)

    def stop(self):
        conftest.stop_pid(self.proc)
        self.proc.stdout.close()


def ask(d, name, timeout=3.0):
    q = make_query(name, "A", edns=0)
    t0 = time.monotonic()
    resp = udp_query(d.port, q, timeout=timeout)
    return resp, time.monotonic() - t0


def start(start_cordond, servers, timeout="2s"):
    mport = conftest.free_port()
    d = start_cordond({"upstream": {"servers": servers, "timeout": timeout},
                       "control": {"http": "127.0.0.1:%d" % mport}})
    return d, mport


def upstream_sent(m, server):
    return m.get('cordon_upstream_queries_total{server="%s"}' % server, 0)


def test_closed_port_costs_at_most_one_packet_per_query(start_cordond):
    port = closed_port()
    server = "127.0.0.1:%d" % port
    d, mport = start(start_cordond, server)
    cpu0 = cpu_seconds(d.proc.pid)
    n = 30
    for i in range(n):
        resp, took = ask(d, "q%d.closed.test" % i)
        assert resp is not None, "no answer to q%d" % i
        assert resp.rcode() == dns.rcode.SERVFAIL
        # an unreachable port is known at once: no waiting for timeout
        assert took < 1.0, took
        codes = ede_list(resp)
        assert len(codes) == 1 and codes[0][0] in (22, 23), codes
        time.sleep(0.02)
    cpu = cpu_seconds(d.proc.pid) - cpu0
    time.sleep(1.1)                         # workers publish each second
    m = metrics(mport)
    sent = upstream_sent(m, server)
    # n queries plus the readiness probe: at most one packet each, and
    # the hold-down (0.5 s, doubling) keeps most of them off the wire
    assert 1 <= sent <= n + 1, sent
    assert sent < n / 2, "hold-down did not spare the closed port: %d" % sent
    assert m['cordon_upstream_holddowns_total{server="%s"}' % server] >= 1
    assert m["cordon_upstream_held_fast_total"] >= 1
    assert m["cordon_upstream_refused_total"] >= n
    assert cpu < 0.5, "cordond burned %.2f CPU-seconds" % cpu


def test_tc_then_tcp_reset_is_bounded(start_cordond, tmp_path):
    up = Refusing(tmp_path)
    try:
        d, mport = start(start_cordond, up.server)
        n = 20
        for i in range(n):
            resp, took = ask(d, "t%d.tc.test" % i)
            assert resp is not None and resp.rcode() == dns.rcode.SERVFAIL
            codes = ede_list(resp)
            assert codes and codes[0][0] == 23 and "TCP" in codes[0][1], \
                codes
            time.sleep(0.02)
        # counted from the start: the readiness probe was asked too
        udp, tcp = up.counts()
        # one UDP try per query; TCP only while not held down
        assert udp <= n + 1, (udp, tcp)
        assert 1 <= tcp <= 4, (udp, tcp)
        assert udp + tcp < 2 * n
    finally:
        up.stop()


def test_tc_then_no_tcp_listener_is_bounded(start_cordond, tmp_path):
    up = Refusing(tmp_path, no_tcp=True)
    try:
        d, mport = start(start_cordond, up.server)
        cpu0 = cpu_seconds(d.proc.pid)
        n = 20
        udp0, _ = up.counts()
        for i in range(n):
            resp, _ = ask(d, "r%d.tc.test" % i)
            assert resp is not None and resp.rcode() == dns.rcode.SERVFAIL
        udp, _ = up.counts()
        assert udp - udp0 <= n
        time.sleep(1.1)
        m = metrics(mport)
        tcp = m['cordon_upstream_holddowns_total{server="%s"}' % up.server]
        assert 1 <= tcp <= 4, tcp
        assert cpu_seconds(d.proc.pid) - cpu0 < 0.5
    finally:
        up.stop()


def test_refused_goes_to_the_next_server_once(start_cordond, tmp_path):
    """Two servers that answer REFUSED (the hostile stub, "refused" in the
    name): each is asked once per query, then SERVFAIL with EDE 22."""
    import test_hardening
    h1 = test_hardening.Hostile(tmp_path)
    h2dir = tmp_path / "h2"
    h2dir.mkdir()
    h2 = test_hardening.Hostile(h2dir)
    try:
        d, _ = start(start_cordond, "%s, %s" % (h1.server, h2.server))
        resp, _ = ask(d, "a1.refused.test")
        assert resp.rcode() == dns.rcode.SERVFAIL
        codes = ede_list(resp)
        assert codes and codes[0][0] == 22 and "refused" in codes[0][1]
        asked = len(h1.lines("a1")) + len(h2.lines("a1"))
        assert asked == 2, (h1.lines(), h2.lines())
        # an upstream REFUSED does not hold the server down: other names
        # are still asked there
        resp, _ = ask(d, "fine.example.test")
        assert resp.rcode() == dns.rcode.NOERROR
    finally:
        h1.stop()
        h2.stop()


def test_silent_name_does_not_hold_the_server_down(start_cordond, tmp_path):
    import test_hardening
    h = test_hardening.Hostile(tmp_path)
    try:
        d, mport = start(start_cordond, h.server, timeout="600ms")
        resp, took = ask(d, "s1.silent.test")
        assert resp.rcode() == dns.rcode.SERVFAIL
        assert took >= 0.5
        codes = ede_list(resp)
        assert codes and codes[0][0] == 22 and "in time" in codes[0][1]
        # three tries in the timeout, not more
        assert 1 <= len(h.lines("s1")) <= 4, h.lines("s1")
        resp, took = ask(d, "other.example.test")
        assert resp.rcode() == dns.rcode.NOERROR and took < 0.3
        time.sleep(1.1)
        m = metrics(mport)
        assert m['cordon_upstream_holddowns_total{server="%s"}'
                 % h.server] == 0
    finally:
        h.stop()


def test_restarted_upstream_is_used_again(start_cordond, tmp_path):
    """The local upstream goes away and comes back on the same port:
    cordond answers SERVFAIL meanwhile without flooding the port, and
    answers again within a hold-down after the upstream is back."""
    import test_hardening
    h = test_hardening.Hostile(tmp_path)
    port = h.port
    d, mport = start(start_cordond, h.server)
    try:
        resp, _ = ask(d, "before.example.test")
        assert resp.rcode() == dns.rcode.NOERROR
        h.stop()
        cpu0 = cpu_seconds(d.proc.pid)
        t_end = time.monotonic() + 2.0
        i = 0
        while time.monotonic() < t_end:
            resp, _ = ask(d, "down%d.example.test" % i)
            assert resp is not None and resp.rcode() == dns.rcode.SERVFAIL
            i += 1
            time.sleep(0.01)
        assert cpu_seconds(d.proc.pid) - cpu0 < 0.5
        h = Hostile_on(tmp_path, port)
        t_back = time.monotonic()
        while True:
            resp, _ = ask(d, "after%d.example.test" % i)
            i += 1
            if resp is not None and resp.rcode() == dns.rcode.NOERROR:
                break
            assert time.monotonic() - t_back < HOLD_MAX_S + 1.5, \
                "still SERVFAIL long after the upstream came back"
            time.sleep(0.05)
    finally:
        h.stop()


def Hostile_on(workdir, port):
    """The hostile stub again, on the port it had."""
    import test_hardening
    deadline = time.monotonic() + 5
    while True:
        orig = conftest.free_port
        conftest.free_port = lambda *a, **k: port
        try:
            return test_hardening.Hostile(workdir)
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
        finally:
            conftest.free_port = orig
