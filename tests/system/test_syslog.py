"""Audit lines and checkpoints to syslog ([log] syslog, issue 9 item 2
and issue 11 item 4), received by a real rsyslogd started here on a
socket of its own, as an operator's collector would: every line the
daemon writes arrives in order and byte for byte under the tag
"cordon-audit", with the signed checkpoints among them, so the log can be
rebuilt and verified from the collector alone; a checkpoint kept off the
host catches an operator who rewrote the host's log and re-signed its
checkpoints file; a syslog daemon that goes away and comes back costs
counted drops, not a stalled log."""

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import CORDON, CORDOND, build_conf, free_port
from helpers import make_query, metrics, read_lines, udp_query

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"

CONF = """\
global(workDirectory="{dir}" maxMessageSize="64k")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="{sock}" CreatePath="on"
      RateLimit.Interval="0")
template(name="audit" type="string"
         string="%programname%|%syslogfacility-text%|%syslogseverity-text%|%msg%\\n")
if $programname == "cordon-audit" then {{
    action(type="omfile" file="{out}" template="audit")
    stop
}}
"""


class Rsyslog:
    """rsyslogd -n on its own socket, writing what cordon sends to
    out: one "tag|facility|severity|message" line per message."""

    def __init__(self, dir_):
        self.dir = dir_
        self.sock = dir_ / "log.sock"
        self.out = dir_ / "collected.txt"
        self.conf = dir_ / "rsyslog.conf"
        self.conf.write_text(CONF.format(dir=dir_, sock=self.sock,
                                         out=self.out))
        self.proc = None

    def start(self):
        if not os.access(RSYSLOGD, os.X_OK):
            pytest.fail("needs rsyslog (scripts/setup installs it)")
        self.proc = subprocess.Popen(
            [RSYSLOGD, "-n", "-f", str(self.conf), "-i",
             str(self.dir / "rsyslogd.pid")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not self.sock.exists():
            assert self.proc.poll() is None, self.proc.stdout.read()
            assert time.monotonic() < deadline, "rsyslogd made no socket"
            time.sleep(0.02)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def messages(self):
        if not self.out.exists():
            return []
        out = []
        for ln in self.out.read_text().splitlines():
            tag, fac, sev, msg = ln.split("|", 3)
            out.append((tag, fac, sev, msg.lstrip(" ")))
        return out

    def wait(self, pred, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            got = self.messages()
            if pred(got) or time.monotonic() > deadline:
                return got
            time.sleep(0.05)


@pytest.fixture
def rsyslog(tmp_path):
    r = Rsyslog(tmp_path)
    r.start()
    yield r
    r.stop()


def keygen(tmp_path):
    key = tmp_path / "signing.pem"
    r = subprocess.run([CORDON, "audit", "keygen", "--origin",
                        "cordon/test", "-o", str(key)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return key, r.stdout.strip()


def syslog_conf(rsyslog, key=None, **extra):
    log = {"syslog": "yes", "syslog_socket": str(rsyslog.sock),
           "syslog_facility": "local4"}
    if key is not None:
        log.update(signing_key=str(key), origin="cordon/test",
                   checkpoint_every="200ms")
    log.update(extra)
    return {"log": log}


def block(d, prefix, n):
    for i in range(n):
        udp_query(d.port, make_query("%s%d.binance.com" % (prefix, i)))


def audit(*args):
    return subprocess.run([CORDON, "audit"] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=60)


def split(messages):
    """(log lines, checkpoint lines) of what the collector holds."""
    lines, cps = [], []
    for tag, fac, sev, msg in messages:
        assert tag == "cordon-audit" and fac == "local4", (tag, fac)
        rec = json.loads(msg)
        if "note" in rec:
            assert sev == "notice" and "seq" not in rec
            cps.append(msg)
        else:
            want = ("warning" if rec.get("event") == "gap" else
                    "info" if "event" in rec else "notice")
            assert sev == want, (sev, msg)
            lines.append(msg)
    return lines, cps


def test_every_line_and_checkpoint_reaches_the_collector(
        start_cordond, rsyslog, tmp_path):
    key, vkey = keygen(tmp_path)
    d = start_cordond(syslog_conf(rsyslog, key))
    block(d, "a", 20)
    time.sleep(0.4)                         # a checkpoint falls due
    d.proc.send_signal(signal.SIGHUP)       # and one at the reload
    time.sleep(0.4)
    block(d, "b", 5)
    d.stop()                                # the stop line, a checkpoint
    on_disk = read_lines(d.audit, 0, 0)
    cps_disk = Path(str(d.audit) + ".checkpoints").read_text().splitlines()
    got = rsyslog.wait(lambda m: len(m) >= len(on_disk) + len(cps_disk))
    lines, cps = split(got)
    assert lines == on_disk, "the collector holds the file, in order"
    assert cps == cps_disk, "and every checkpoint"
    assert len(cps) >= 3 and sum(1 for ln in lines if '"client"' in ln) == 25

    # The auditor rebuilds the log from the collector alone.
    rebuilt = tmp_path / "from-syslog.jsonl"
    rebuilt.write_text("".join(ln + "\n" for ln in lines))
    cpfile = tmp_path / "from-syslog.checkpoints"
    cpfile.write_text("".join(c + "\n" for c in cps))
    r = audit("verify", rebuilt, "--key", vkey, "--checkpoints", cpfile)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "checkpoints: %d verified" % len(cps) in r.stdout, r.stdout


def test_off_host_checkpoints_catch_a_resigned_rewrite(
        start_cordond, rsyslog, tmp_path):
    """The operator holds the key: he can rewrite the host's log, re-chain
    it and sign new checkpoints over it.  The checkpoints that went to the
    collector when the lines were written still catch him."""
    key, vkey = keygen(tmp_path)
    d = start_cordond(syslog_conf(rsyslog, key))
    block(d, "c", 10)
    d.stop()
    on_disk = read_lines(d.audit, 0, 0)
    got = rsyslog.wait(lambda m: any('"note"' in x[3] for x in m) and
                       len(m) > len(on_disk))
    _, cps = split(got)
    off_host = tmp_path / "collector.checkpoints"
    off_host.write_text("".join(c + "\n" for c in cps))

    # one blocked attempt removed, the chain recomputed, re-signed
    import hashlib
    victim = next(i for i, ln in enumerate(on_disk) if '"client"' in ln)
    edited, prev, seq = [], "0" * 64, 0
    for i, ln in enumerate(on_disk):
        if i == victim:
            continue
        seq += 1
        rec_head, _, _ = ln.rpartition(',"prev":')
        body = rec_head.split(",", 1)[1]
        ln = '{"seq":%d,%s,"prev":"%s"}' % (seq, body, prev)
        edited.append(ln)
        prev = hashlib.sha256(ln.encode()).hexdigest()
    forged = tmp_path / "forged.jsonl"
    forged.write_text("".join(ln + "\n" for ln in edited))
    resigned = tmp_path / "resigned.checkpoints"
    r = audit("checkpoint", forged, "--key", key, "--origin", "cordon/test",
              "-o", resigned)
    assert r.returncode == 0, r.stderr
    r = audit("verify", forged, "--key", vkey, "--checkpoints", resigned)
    assert r.returncode == 0, "the operator's own checkpoints agree: " + \
        r.stdout + r.stderr
    r = audit("verify", forged, "--key", vkey, "--checkpoints", off_host)
    assert r.returncode == 1, r.stdout + r.stderr


def test_a_syslog_restart_costs_counted_drops_not_the_log(
        start_cordond, rsyslog, tmp_path):
    mport = free_port()
    ov = syslog_conf(rsyslog)
    ov["control"] = {"http": "127.0.0.1:%d" % mport}
    d = start_cordond(ov)
    block(d, "d", 5)
    assert len(rsyslog.wait(lambda m: len(m) >= 7)) == 7   # start, policy
    rsyslog.stop()
    assert not rsyslog.sock.exists(), "rsyslogd removes its socket"
    block(d, "e", 5)                        # nobody listens: dropped
    deadline = time.monotonic() + 5
    while True:
        m = metrics(mport)
        if m.get('cordon_syslog_messages_total{result="dropped"}', 0) >= 5:
            break
        assert time.monotonic() < deadline, m
        time.sleep(0.1)
    assert m['cordon_syslog_messages_total{result="sent"}'] == 7
    rsyslog.start()                         # a new socket at the path
    time.sleep(1.2)                         # the sink looks again
    block(d, "f", 5)
    got = rsyslog.wait(lambda m: sum('"qname":"f' in x[3]
                                     for x in m) >= 5)
    assert sum('"qname":"f' in x[3] for x in got) == 5, got
    # the file has everything, whatever syslog missed
    assert sum('"client"' in ln for ln in read_lines(d.audit, 0, 0)) == 15


def test_background_daemon_sends_to_syslog(rsyslog, tmp_path, upstream):
    """As an init script starts it: without -f (issue 8, defect 1)."""
    port = free_port()
    pidfile = tmp_path / "cordond.pid"
    ov = syslog_conf(rsyslog)
    ov["server"] = {"pidfile": str(pidfile)}
    conf = build_conf(tmp_path, port, upstream.server, ov)
    r = subprocess.run([CORDOND, "-c", str(conf)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    pid = int(pidfile.read_text())
    try:
        block(type("D", (), {"port": port}), "g", 3)
        got = rsyslog.wait(lambda m: sum('"client"' in x[3]
                                         for x in m) >= 3)
        assert sum('"qname":"g' in x[3] for x in got) == 3, got
        assert got[0][3].startswith('{"seq":1,') and '"start"' in got[0][3]
    finally:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while Path("/proc/%d" % pid).exists() and \
                time.monotonic() < deadline:
            time.sleep(0.05)
    got = rsyslog.wait(lambda m: any('"stop"' in x[3] for x in m))
    assert '"event":"stop"' in got[-1][3], got[-1]


@pytest.mark.parametrize("key,value,reason", [
    ("syslog_facility", "kern", "not a syslog facility"),
    ("syslog_tag", "cordon audit", "not a syslog tag"),
    ("syslog_socket", "/tmp/" + "x" * 120, "path too long"),
])
def test_bad_syslog_settings_are_reported(tmp_path, upstream, key, value,
                                          reason):
    conf = build_conf(tmp_path, free_port(), upstream.server,
                      {"log": {"syslog": "yes", key: value}})
    r = subprocess.run([CORDOND, "-t", "-c", str(conf)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    lines = conf.read_text().splitlines()
    lineno = next(i + 1 for i, ln in enumerate(lines)
                  if ln.startswith(key))
    assert "%s:%d: " % (conf, lineno) in r.stderr and reason in r.stderr, \
        r.stderr
