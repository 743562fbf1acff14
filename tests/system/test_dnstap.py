"""[log] dnstap (PRODUCT.md "Logging to collectors", issue 11 point 3):
client queries and answers, and with dnstap_forwarder the upstream
exchanges, as fstrm frame streams read back by the independent readers
dnstap-ldns and fstrm_capture; a collector that stops reading never
stalls the daemon."""

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from helpers import make_query, metrics, rcode_text, udp_query
from conftest import free_port, require_program, stop_pid

DNSTAP_LDNS = "/usr/bin/dnstap-ldns"
FSTRM_CAPTURE = "/usr/bin/fstrm_capture"


def read_tap(path, yaml=False):
    """dnstap-ldns's reading of a frame-stream file: quiet lines, or the
    YAML documents."""
    require_program(DNSTAP_LDNS)
    res = subprocess.run([DNSTAP_LDNS, "-y" if yaml else "-q", "-r",
                          str(path)], capture_output=True, text=True,
                         timeout=30)
    assert res.returncode == 0, res.stderr
    return res.stdout


def quiet_records(text):
    """[(type, address, proto, qname)] of dnstap-ldns -q lines."""
    out = []
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 7:
            out.append((f[2], f[3], f[4], f[6].strip('"')))
    return out


def of_name(records, qname):
    return [(t, a, p) for t, a, p, n in records if n == qname]


def test_client_and_forwarder_messages_in_a_file(start_cordond, tmp_path):
    tap = tmp_path / "tap.fstrm"
    d = start_cordond({"log": {"dnstap": "file:%s" % tap,
                               "dnstap_forwarder": "yes",
                               "dnstap_identity": "resolver-7"}})
    assert rcode_text(d.udp("www.binance.com")) == "NXDOMAIN"
    assert rcode_text(d.tcp("tap1.pipe.test")) == "NOERROR"
    assert rcode_text(d.udp("tap1.pipe.test")) == "NOERROR"   # cached
    assert d.stop() == 0            # the stream is closed on the way out
    recs = quiet_records(read_tap(tap))
    assert of_name(recs, "www.binance.com.") == [
        ("CQ", "127.0.0.1", "UDP"), ("CR", "127.0.0.1", "UDP")]
    # TCP from the client, UDP to the upstream, then the cached answer
    assert of_name(recs, "tap1.pipe.test.") == [
        ("CQ", "127.0.0.1", "TCP"), ("FQ", "127.0.0.1", "UDP"),
        ("FR", "127.0.0.1", "UDP"), ("CR", "127.0.0.1", "TCP"),
        ("CQ", "127.0.0.1", "UDP"), ("CR", "127.0.0.1", "UDP")]
    docs = read_tap(tap, yaml=True).split("\n---\n")
    blocked = [doc for doc in docs if "CLIENT_RESPONSE" in doc and
               "www.binance.com." in doc]
    assert len(blocked) == 1, docs
    assert 'identity: "resolver-7"' in blocked[0]
    assert 'version: "cordon ' in blocked[0]
    assert "rcode: NXDOMAIN" in blocked[0]
    assert "response_time:" in blocked[0]
    assert "query_port:" in blocked[0]


def test_no_forwarder_messages_unless_asked(start_cordond, tmp_path):
    tap = tmp_path / "tap.fstrm"
    d = start_cordond({"log": {"dnstap": "file:%s" % tap}})
    assert rcode_text(d.udp("tap2.pipe.test")) == "NOERROR"
    assert d.stop() == 0
    recs = quiet_records(read_tap(tap))
    assert of_name(recs, "tap2.pipe.test.") == [
        ("CQ", "127.0.0.1", "UDP"), ("CR", "127.0.0.1", "UDP")]
    assert not [r for r in recs if r[0] in ("FQ", "FR")]


def test_unix_socket_to_fstrm_capture_started_later(start_cordond,
                                                   tmp_path):
    """cordond starts before its collector: the I/O thread connects when
    the socket appears, and fstrm_capture writes what it got."""
    require_program(FSTRM_CAPTURE)
    sock = Path("/tmp") / ("cordon-tap-%d.sock" % os.getpid())
    out = tmp_path / "captured.fstrm"
    sock.unlink(missing_ok=True)
    d = start_cordond({"log": {"dnstap": "unix:%s" % sock}})
    cap = subprocess.Popen([FSTRM_CAPTURE, "-t", "protobuf:dnstap.Dnstap",
                            "-u", str(sock), "-w", str(out)],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        seen = False
        i = 0
        # queries until one reached the collector (reconnects each 1 s)
        while time.monotonic() < deadline and not seen:
            i += 1
            assert rcode_text(d.udp("late%d.pipe.test" % i)) == "NOERROR"
            time.sleep(0.3)
            seen = out.exists() and out.stat().st_size > 100
        assert d.stop() == 0
    finally:
        stop_pid(cap)
        sock.unlink(missing_ok=True)
    recs = quiet_records(read_tap(out))
    names = {n for _, _, _, n in recs}
    assert "late%d.pipe.test." % i in names, recs
    assert ("CQ", "127.0.0.1", "UDP") in of_name(recs, "late%d.pipe.test."
                                                  % i)


class StalledCollector(threading.Thread):
    """A unix-socket collector that accepts the fstrm handshake's
    connection and then never reads."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(str(path))
        self.srv.listen(4)
        self.conns = []
        self.done = threading.Event()

    def run(self):
        self.srv.settimeout(0.2)
        while not self.done.is_set():
            try:
                c, _ = self.srv.accept()
                self.conns.append(c)
            except socket.timeout:
                pass

    def stop(self):
        self.done.set()
        self.join(2)
        for c in self.conns:
            c.close()
        self.srv.close()


def test_a_collector_that_stops_reading_does_not_stall_queries(
        start_cordond, tmp_path):
    sock = Path("/tmp") / ("cordon-stall-%d.sock" % os.getpid())
    sock.unlink(missing_ok=True)
    col = StalledCollector(sock)
    col.start()
    mport = free_port()
    try:
        d = start_cordond({"log": {"dnstap": "unix:%s" % sock},
                           "control": {"http": "127.0.0.1:%d" % mport}})
        q = make_query("www.binance.com", "A")
        start = time.monotonic()
        answered = 0
        for i in range(6000):
            q.id = i & 0xffff
            r = udp_query(d.port, q, "127.0.0.1", 2.0)
            answered += r is not None and rcode_text(r) == "NXDOMAIN"
        took = time.monotonic() - start
        assert answered == 6000, "%d of 6000 answered" % answered
        time.sleep(1.2)                 # workers publish once a second
        m = metrics(mport)
        sent = m['cordon_dnstap_messages_total{result="sent"}']
        dropped = m['cordon_dnstap_messages_total{result="dropped"}']
        assert sent + dropped >= 12000
        assert dropped > 0, m
        assert took < 60
        t0 = time.monotonic()
        assert d.stop() == 0, d.output()
        assert time.monotonic() - t0 < 8    # the close waits 2 s at most
        assert "the collector is not reading" in d.output()
    finally:
        col.stop()
        sock.unlink(missing_ok=True)


def test_bad_dnstap_values_are_config_errors(tmp_path):
    cordond = os.environ.get("CORDOND", str(
        Path(__file__).resolve().parents[2] / "daemon" / "cordond"))
    for value, why in (("tcp:127.0.0.1:6000", "expected unix:PATH or "
                        "file:PATH"),
                       ("unix:relative.sock", "the path must be absolute")):
        conf = tmp_path / "c.conf"
        conf.write_text("[upstream]\nservers = 127.0.0.1:9\n[policy]\n"
                        "lists = /nonexistent/sources.ini\n[log]\n"
                        "dnstap = %s\n" % value)
        res = subprocess.run([cordond, "-t", "-c", str(conf)],
                             capture_output=True, text=True, timeout=20)
        assert res.returncode != 0
        assert "%s:6: " % conf in res.stderr and why in res.stderr, \
            res.stderr


def test_unwritable_dnstap_file_fails_the_start(tmp_path):
    cordond = os.environ.get("CORDOND", str(
        Path(__file__).resolve().parents[2] / "daemon" / "cordond"))
    (tmp_path / "ex.domains").write_text("binance.com\n")
    (tmp_path / "sources.ini").write_text(
        "[source ex]\nfile = ex.domains\nformat = domains\n")
    conf = tmp_path / "c.conf"
    conf.write_text("[server]\nlisten = 127.0.0.1:%d\n"
                    "[upstream]\nservers = 127.0.0.1:9\n[policy]\n"
                    "lists = %s\n[log]\ndnstap = file:/nonexistent/x\n"
                    % (free_port(), tmp_path / "sources.ini"))
    res = subprocess.run([cordond, "-f", "-c", str(conf)],
                         capture_output=True, text=True, timeout=20)
    assert res.returncode != 0
    assert "/nonexistent/x" in res.stderr, res.stderr
