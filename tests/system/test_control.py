"""The operator interfaces: `cordon ctl reload|stats|flush [NAME]` through
the [control] socket, and GET /metrics and /healthz on [control] http
(PRODUCT.md, "Configuration" [control], "The cordon tool").

Workers publish their counters once a second, so metric checks poll
/metrics until the expected values show up (or a few seconds pass) and
then compare exactly.  metrics(), metrics_until() and ctl() are used by
test_reload.py too."""

import os
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import CORDON, free_port, require_program
from helpers import (EXCHANGES, assert_blocked_nxdomain, assert_forwarded_a,
                     rcode_text, read_lines)

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? '
                    r'(-?[0-9.e+-]+|\+Inf|NaN)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


# ---- helpers shared with test_reload.py ----

def http_get(port, path, method="GET", timeout=3.0):
    """(status, headers, body text) of one request to 127.0.0.1:port."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                 method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode("utf-8", "replace")


def parse_metrics(text):
    """{(name, ((label, value), ...)): float} of a Prometheus text page.
    Labels are sorted, so series("x", a="1") finds them."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, "not a Prometheus sample line: %r" % line
        labels = tuple(sorted(LABEL.findall(m.group(2) or "")))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def series(name, **labels):
    return (name, tuple(sorted(labels.items())))


def metrics(port):
    status, _, body = http_get(port, "/metrics")
    assert status == 200, "GET /metrics: %d %s" % (status, body[:200])
    return parse_metrics(body)


def metrics_until(port, want, timeout=4.0):
    """Polls /metrics until every series in want ({series: value}) has
    that value or timeout passed; returns the last scrape."""
    deadline = time.monotonic() + timeout
    while True:
        m = metrics(port)
        if all(m.get(k) == v for k, v in want.items()) or \
                time.monotonic() >= deadline:
            return m
        time.sleep(0.1)


def assert_values(m, want):
    wrong = {k: (m.get(k), v) for k, v in want.items() if m.get(k) != v}
    assert not wrong, "series: (got, want): %r" % wrong


def settled(port, timeout=4.0):
    """Waits until the published counters account for every query asked
    so far (each query answered and counted); returns that scrape."""
    deadline = time.monotonic() + timeout
    while True:
        m = metrics(port)
        asked = sum(v for (n, _), v in m.items()
                    if n == "cordon_queries_total")
        answered = sum(v for (n, _), v in m.items()
                       if n == "cordon_answers_total")
        if (asked > 0 and asked == answered) or \
                time.monotonic() >= deadline:
            return m
        time.sleep(0.1)


def ctl(sock, *args, timeout=15):
    """Runs `cordon ctl -s SOCK ARGS`; returns the CompletedProcess."""
    require_program(CORDON)
    return subprocess.run([CORDON, "ctl", "-s", str(sock)] + list(args),
                          capture_output=True, text=True, timeout=timeout)


def raw_ctl(sock, line, timeout=5.0):
    """Sends one line to the control socket; returns the whole reply."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(sock))
        s.sendall(line.encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data.decode("utf-8", "replace")
            data += chunk


@pytest.fixture
def short_dir():
    """A directory with a short path: a Unix socket path must fit in
    108 bytes, which pytest's tmp_path does not promise."""
    d = tempfile.mkdtemp(prefix="cordon-ctl-")
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


def control_overrides(short_dir, http_port):
    return {"control": {"socket": str(short_dir / "ctl.sock"),
                        "http": "127.0.0.1:%d" % http_port}}


@pytest.fixture
def ctl_cordond(start_cordond, short_dir):
    """cordond with [control] socket and http; .sock and .http set."""
    http_port = free_port()
    d = start_cordond(control_overrides(short_dir, http_port))
    d.sock = short_dir / "ctl.sock"
    d.http = http_port
    return d


# ---- cordon ctl ----

def test_ctl_socket_is_a_socket_with_mode_0660(ctl_cordond):
    st = os.stat(ctl_cordond.sock)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o660, oct(st.st_mode)


def test_ctl_stats_prints_ok_and_the_counters(ctl_cordond):
    d = ctl_cordond
    assert_blocked_nxdomain(d.udp("s1.binance.com"), "binance.com")
    assert_forwarded_a(d.udp("s1.stats.test"), "s1.stats.test")
    settled(d.http)
    r = ctl(d.sock, "stats")
    assert r.returncode == 0, r.stderr
    first, _, rest = r.stdout.partition("\n")
    assert first.startswith("ok"), r.stdout[:200]
    stats = parse_metrics(rest)
    page = metrics(d.http)
    for key in (series("cordon_queries_total", proto="udp"),
                series("cordon_answers_total", rcode="NXDOMAIN"),
                series("cordon_blocked_total", list="exchanges",
                       trigger="qname"),
                series("cordon_cache_misses_total"),
                series("cordon_policy_entries")):
        assert key in stats, key
        assert stats[key] == page[key], key
    assert stats[series("cordon_answers_total", rcode="NXDOMAIN")] >= 1
    assert stats[series("cordon_blocked_total", list="exchanges",
                        trigger="qname")] == 1


def test_ctl_flush_empties_the_cache(ctl_cordond, upstream):
    d = ctl_cordond
    for name in ("f1.flush.test", "f2.other.test"):
        assert_forwarded_a(d.udp(name), name)
        assert_forwarded_a(d.udp(name), name)
        assert upstream.count(name) == 1, "%s not cached" % name
    r = ctl(d.sock, "flush")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ok"), r.stdout
    for name in ("f1.flush.test", "f2.other.test"):
        assert_forwarded_a(d.udp(name), name)
        assert upstream.count(name) == 2, "%s still cached" % name
    m = metrics_until(d.http, {series("cordon_cache_entries"): 2.0})
    assert m[series("cordon_cache_entries")] == 2.0


@pytest.mark.parametrize("flushed", ["zone.flush.test", "Zone.FLUSH.test."])
def test_ctl_flush_name_drops_that_name_and_below_only(ctl_cordond,
                                                       upstream, flushed):
    d = ctl_cordond
    names = ("zone.flush.test", "a.zone.flush.test", "b.c.zone.flush.test",
             "keep.flush.test", "otherzone.flush.test")
    for name in names:
        assert_forwarded_a(d.udp(name), name)
    r = ctl(d.sock, "flush", flushed)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ok"), r.stdout
    for name in names:
        assert_forwarded_a(d.udp(name), name)
    got = {name: upstream.count(name) for name in names}
    assert got == {"zone.flush.test": 2, "a.zone.flush.test": 2,
                   "b.c.zone.flush.test": 2, "keep.flush.test": 1,
                   "otherzone.flush.test": 1}


def test_ctl_flush_bad_name_is_an_error(ctl_cordond):
    r = ctl(ctl_cordond.sock, "flush", "bad..name")
    assert r.returncode == 1
    assert r.stderr.startswith("error:"), r.stderr
    assert "bad..name" in r.stderr
    assert r.stdout == ""


def test_ctl_unknown_command(ctl_cordond):
    d = ctl_cordond
    # the tool knows its commands: a usage error, nothing sent
    r = ctl(d.sock, "bogus")
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "usage: cordon ctl" in r.stderr
    r = ctl(d.sock, "stats", "extra")
    assert r.returncode == 2
    # the daemon answers an unknown line with an error, and stays up
    reply = raw_ctl(d.sock, "bogus\n")
    assert reply.startswith("error: "), reply
    assert "bogus" in reply
    assert raw_ctl(d.sock, "stats\n").startswith("ok\n")
    assert d.alive()


def test_ctl_without_a_daemon_says_so(tmp_path, short_dir):
    missing = short_dir / "no-such.sock"
    r = ctl(missing, "stats")
    assert r.returncode == 1
    assert str(missing) in r.stderr, r.stderr
    assert "No such file or directory" in r.stderr, r.stderr
    assert r.stdout == ""
    # a socket file nobody listens on
    stale = short_dir / "stale.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(str(stale))
    r = ctl(stale, "reload")
    assert r.returncode == 1
    assert str(stale) in r.stderr and "refused" in r.stderr, r.stderr


def test_ctl_with_config_without_socket_key(tmp_path):
    conf = tmp_path / "nosock.conf"
    conf.write_text("[policy]\nlists = %s\n[upstream]\nservers = "
                    "127.0.0.1:5300\n" % (tmp_path / "x.ini"))
    require_program(CORDON)
    r = subprocess.run([CORDON, "ctl", "-c", str(conf), "stats"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 1
    assert "[control] socket is not set" in r.stderr, r.stderr


def test_ctl_finds_the_socket_through_the_config(ctl_cordond):
    require_program(CORDON)
    r = subprocess.run([CORDON, "ctl", "-c", str(ctl_cordond.conf),
                        "stats"], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ok\n")
    assert "cordon_queries_total" in r.stdout


def test_ctl_socket_removed_at_stop(ctl_cordond):
    assert ctl_cordond.sock.exists()
    assert ctl_cordond.stop() == 0
    assert not ctl_cordond.sock.exists()


# ---- HTTP ----

def test_healthz_and_unknown_paths(ctl_cordond):
    status, headers, body = http_get(ctl_cordond.http, "/healthz")
    assert (status, body) == (200, "ok\n")
    for path in ("/", "/metricsx", "/healthz/x", "/metrics/", "/nope"):
        status, _, _ = http_get(ctl_cordond.http, path)
        assert status == 404, path
    status, _, _ = http_get(ctl_cordond.http, "/metrics", method="POST")
    assert status >= 400


def family_of(name, types):
    """The metric family a sample name belongs to."""
    base = re.sub(r"_(bucket|sum|count)$", "", name)
    if base != name and types.get(base) == "histogram":
        return base
    return name


def test_metrics_content_type_and_families(start_cordond, short_dir,
                                           upstream):
    """Each family has one HELP and one TYPE line and its samples in one
    group (text format 0.0.4), here with two upstream servers; histogram
    buckets are cumulative and le="+Inf" equals _count."""
    http_port = free_port()
    servers = "%s, 127.0.0.1:%d" % (upstream.server, free_port())
    d = start_cordond(control_overrides(short_dir, http_port),
                      servers=servers)
    assert_forwarded_a(d.udp("fam.test"), "fam.test")
    settled(http_port)
    status, headers, body = http_get(http_port, "/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    types, helps, order, problems = {}, set(), [], []
    for line in body.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            if name in types:
                problems.append("second TYPE line for %s" % name)
            types[name] = kind
        elif line.startswith("# HELP "):
            name = line.split(" ")[2]
            if name in helps:
                problems.append("second HELP line for %s" % name)
            helps.add(name)
        elif line:
            family = family_of(SAMPLE.match(line).group(1), types)
            if family not in types or family not in helps:
                problems.append("%s: no HELP/TYPE lines before it" % family)
            if not order or order[-1] != family:
                if family in order:
                    problems.append("the samples of %s are not in one "
                                    "group" % family)
                order.append(family)
    assert not problems, sorted(set(problems))
    m = parse_metrics(body)
    name = "cordon_upstream_latency_seconds_bucket"
    srvs = {dict(lb)["server"] for (n, lb) in m if n == name}
    assert srvs == {upstream.server, "127.0.0.1:%d" % int(
        servers.rsplit(":", 1)[1])}
    for srv in srvs:
        buckets = sorted((float(dict(lb)["le"]), v) for (n, lb), v in
                         m.items() if n == name and
                         dict(lb)["server"] == srv)
        values = [v for _, v in buckets]
        assert values == sorted(values), "%s: not cumulative" % srv
        assert buckets[-1][1] == m[series(
            "cordon_upstream_latency_seconds_count", server=srv)]


def test_metrics_move_with_traffic(ctl_cordond, upstream):
    d = ctl_cordond
    base = settled(d.http)
    up = upstream.server

    def delta(key):
        return m.get(key, 0.0) - base.get(key, 0.0)

    # UDP: 3 allowed (one asked twice), 2 blocked by exchanges, one
    # NXDOMAIN and one SERVFAIL from the upstream; TCP: 1 allowed, 1
    # blocked by ico.
    assert_forwarded_a(d.udp("m1.metrics.test"), "m1.metrics.test")
    assert_forwarded_a(d.udp("m2.metrics.test"), "m2.metrics.test")
    assert_forwarded_a(d.udp("m1.metrics.test"), "m1.metrics.test")
    assert_blocked_nxdomain(d.udp("a.binance.com"), "binance.com")
    assert_blocked_nxdomain(d.udp("b.binance.com", "AAAA"), "binance.com")
    assert rcode_text(d.udp("m3.nx.metrics.test")) == "NXDOMAIN"
    assert rcode_text(d.udp("m4.fail.metrics.test")) == "SERVFAIL"
    assert_forwarded_a(d.tcp("m5.metrics.test"), "m5.metrics.test")
    assert_blocked_nxdomain(d.tcp("x.bad.safe.example.com"),
                            "bad.safe.example.com")
    want_queries = base[series("cordon_queries_total", proto="udp")] + 7
    m = metrics_until(d.http, {
        series("cordon_queries_total", proto="udp"): want_queries,
        series("cordon_answers_total", rcode="SERVFAIL"):
            base[series("cordon_answers_total", rcode="SERVFAIL")] + 1,
        series("cordon_log_lines_total", log="blocked", result="written"):
            base[series("cordon_log_lines_total", log="blocked",
                        result="written")] + 3})
    assert delta(series("cordon_queries_total", proto="udp")) == 7
    assert delta(series("cordon_queries_total", proto="tcp")) == 2
    assert delta(series("cordon_answers_total", rcode="NOERROR")) == 4
    assert delta(series("cordon_answers_total", rcode="NXDOMAIN")) == 4
    assert delta(series("cordon_answers_total", rcode="SERVFAIL")) == 1
    assert delta(series("cordon_answers_total", rcode="REFUSED")) == 0
    assert delta(series("cordon_blocked_total", list="exchanges",
                        trigger="qname")) == 2
    assert delta(series("cordon_blocked_total", list="ico",
                        trigger="qname")) == 1
    assert delta(series("cordon_blocked_total", list="hostsfile",
                        trigger="qname")) == 0
    assert delta(series("cordon_cache_hits_total")) == 1
    # m1, m2, m3 (nx), m4 (fail), m5: each looked up and missed once
    assert delta(series("cordon_cache_misses_total")) == 5
    assert delta(series("cordon_upstream_queries_total", server=up)) >= 5
    assert delta(series("cordon_upstream_queries_total", server=up)) == \
        len([q for q in upstream.queries() if ".metrics.test." in q[0]])
    assert delta(series("cordon_upstream_latency_seconds_count",
                        server=up)) >= 5
    assert delta(series("cordon_upstream_timeouts_total")) == 0
    assert delta(series("cordon_log_lines_total", log="blocked",
                        result="written")) == 3
    assert m[series("cordon_log_lines_total", log="blocked",
                    result="dropped")] == 0
    # the blocked log holds what the counter says
    assert len(read_lines(d.audit, 0, 0)) == m[series(
        "cordon_log_lines_total", log="blocked", result="written")]


def test_metrics_upstream_timeouts_and_errors(start_cordond, short_dir,
                                              upstream):
    http_port = free_port()
    d = start_cordond(dict(control_overrides(short_dir, http_port),
                           upstream={"timeout": "300ms"}))
    base = settled(http_port)
    assert rcode_text(d.udp("t1.drop.metrics.test", timeout=3.0)) == \
        "SERVFAIL"
    m = metrics_until(http_port, {
        series("cordon_upstream_timeouts_total"):
            base[series("cordon_upstream_timeouts_total")] + 1})
    assert m[series("cordon_upstream_timeouts_total")] == \
        base[series("cordon_upstream_timeouts_total")] + 1
    assert m[series("cordon_answers_total", rcode="SERVFAIL")] == \
        base[series("cordon_answers_total", rcode="SERVFAIL")] + 1


def test_metrics_policy_entries_and_info_follow_reload(ctl_cordond):
    d = ctl_cordond
    start_event = [ln for ln in read_lines(d.audit, 2)
                   if '"event":"policy"' in ln]
    assert start_event, "no start-up event line"
    entries = int(re.search(r'"entries":(\d+)', start_event[0]).group(1))
    policy = re.search(r'"policy":"([0-9a-f]+)"', start_event[0]).group(1)
    m = metrics(d.http)
    assert m[series("cordon_policy_entries")] == entries
    assert m[series("cordon_policy_info", policy=policy)] == 1
    assert m[series("cordon_reloads_total", result="ok")] == 0
    (d.workdir / "lists" / "exchanges.domains").write_text(
        EXCHANGES + "more1.example\nmore2.example\n")
    r = ctl(d.sock, "reload")
    assert r.returncode == 0, r.stderr
    m = metrics(d.http)
    assert m[series("cordon_policy_entries")] == entries + 2
    assert m[series("cordon_reloads_total", result="ok")] == 1
    assert m[series("cordon_reloads_total", result="failed")] == 0
    infos = [k for k in m if k[0] == "cordon_policy_info"]
    assert len(infos) == 1
    assert dict(infos[0][1])["policy"] != policy
    assert dict(infos[0][1])["policy"] in r.stdout
