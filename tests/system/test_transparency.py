"""The audit log as a transparency log (issue 9, items 2-4): `cordon audit
keygen`, `checkpoint`, `verify --key --checkpoints` and `prove`, with
Go's golang.org/x/mod/sumdb/note and sumdb/tlog as the independent
verifier (tests/system/tlogcheck, built here offline in GOPATH mode).
Each tamper case is done as an attacker would: edit, then re-chain every
`prev` so the plain chain verifies; an auditor who holds a checkpoint
newer than the tampering must catch it.

The daemon's own checkpoints ([log] signing_key, checkpoint_every) are
tested below ("the daemon writes the checkpoints"); test_syslog.py ships
them off the host."""

import gzip
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import CORDON
from helpers import make_query, read_lines, udp_query

HERE = Path(__file__).resolve().parent
GOPATHS = "/usr/share/gocode"


@pytest.fixture(scope="module")
def tlogcheck(tmp_path_factory):
    if shutil.which("go") is None or not Path(
            GOPATHS, "src/golang.org/x/mod/sumdb/tlog").is_dir():
        pytest.fail("needs golang-go and golang-golang-x-mod-dev "
                    "(scripts/setup installs them)")
    top = tmp_path_factory.mktemp("gopath")
    src = top / "src" / "tlogcheck"
    src.mkdir(parents=True)
    shutil.copy(HERE / "tlogcheck" / "main.go", src / "main.go")
    env = dict(os.environ, GO111MODULE="off", GOFLAGS="",
               GOPATH="%s:%s" % (top, GOPATHS), GOCACHE=str(top / "cache"),
               GOPROXY="off")
    out = top / "tlogcheck"
    r = subprocess.run(["go", "build", "-o", str(out), "tlogcheck"],
                       cwd=top, env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    return str(out)


def cordon(*args, **kw):
    return subprocess.run([CORDON, "audit"] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=60, **kw)


def go(tool, *args):
    return subprocess.run([tool] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def real_log(start_cordond, tmp_path):
    """A log cordond wrote: start line, policy line, 30 blocked lines,
    stop line."""
    d = start_cordond()
    for i in range(30):
        udp_query(d.port, make_query("t%d.binance.com" % i))
    read_lines(d.audit, 32)
    d.stop()
    log = tmp_path / "log.jsonl"
    shutil.copy(d.audit, log)
    return log


def keypair(tmp_path):
    key = tmp_path / "signing.pem"
    r = cordon("keygen", "--origin", "cordon/test", "-o", key)
    assert r.returncode == 0, r.stderr
    vkey = r.stdout.strip()
    assert (tmp_path / "signing.pem.pub").read_text().strip() == vkey
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    return key, vkey


def checkpoint(key, cps, *logs):
    r = cordon("checkpoint", *logs, "--key", key, "--origin", "cordon/test",
               "-o", cps)
    assert r.returncode == 0, r.stderr
    return r.stdout


def rechain(lines):
    """What an attacker does after editing: every prev recomputed."""
    out = []
    prev = "0" * 64
    for ln in lines:
        rec = json.loads(ln)
        head, _, _ = ln.rpartition(',"prev":')
        ln = head + ',"prev":"%s"}' % prev
        out.append(ln)
        prev = hashlib.sha256(ln.encode()).hexdigest()
    return out


def write(path, lines):
    path.write_text("".join(ln + "\n" for ln in lines))


def test_genuine_log_verifies_here_and_in_go(real_log, tmp_path, tlogcheck):
    key, vkey = keypair(tmp_path)
    cps = tmp_path / "cps.jsonl"
    text = checkpoint(key, cps, real_log)
    origin, size, root = text.splitlines()
    assert origin == "cordon/test" and int(size) >= 32
    r = cordon("verify", real_log, "--key", vkey, "--checkpoints", cps)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "checkpoints: 1 verified" in r.stdout
    # Go: the signature, the tree hash
    r = go(tlogcheck, "note", vkey, cps)
    assert r.returncode == 0 and "ok 1 notes" in r.stdout, r.stdout
    r = go(tlogcheck, "tree", size, root, real_log)
    assert r.returncode == 0, r.stdout
    # an inclusion proof of one blocked attempt, for a third party
    seq = json.loads(read_lines(real_log, 0, 0)[10])["seq"]
    r = cordon("prove", real_log, "--seq", seq, "--checkpoints", cps)
    assert r.returncode == 0, r.stderr
    proof = json.loads(r.stdout)
    assert proof["tree_size"] == int(size) and proof["root"] == root
    assert json.loads(proof["line"])["seq"] == seq
    pf = tmp_path / "proof.json"
    pf.write_text(r.stdout)
    r = go(tlogcheck, "inclusion", pf)
    assert r.returncode == 0, r.stdout
    # a consistency proof between two sizes
    r = cordon("prove", "--consistency", 5, size, real_log)
    assert r.returncode == 0, r.stderr
    pf.write_text(r.stdout)
    r = go(tlogcheck, "consistency", pf)
    assert r.returncode == 0, r.stdout
    # a tampered proof fails in Go
    p = json.loads(r and pf.read_text())
    p["hashes"][0] = p["hashes"][1]
    pf.write_text(json.dumps(p))
    assert go(tlogcheck, "consistency", pf).returncode == 1


def tampered(real_log, tmp_path, case):
    """The files an attacker hands over for one tamper case."""
    lines = read_lines(real_log, 0, 0)
    if case == "rewritten":
        i = 12
        rec = json.loads(lines[i])
        lines[i] = lines[i].replace(rec["qname"], "innocent.example")
        lines = rechain(lines)
        out = tmp_path / "t.jsonl"
        write(out, lines)
        return [out]
    if case == "line-removed":
        lines = rechain(lines[:7] + lines[8:])
        # seqs renumbered too, as a careful attacker would
        fixed = []
        for n, ln in enumerate(lines):
            rec = json.loads(ln)
            fixed.append(ln.replace('"seq":%d,' % rec["seq"],
                                    '"seq":%d,' % (n + 1), 1))
        out = tmp_path / "t.jsonl"
        write(out, rechain(fixed))
        return [out]
    if case == "tail-cut":
        out = tmp_path / "t.jsonl"
        write(out, lines[:-5])
        return [out]
    if case == "head-cut":
        out = tmp_path / "t.jsonl"
        write(out, lines[6:])
        return [out]
    if case == "rotated-removed":
        a, b = tmp_path / "t.jsonl.1", tmp_path / "t.jsonl"
        write(a, lines[:15])
        write(b, lines[15:])
        return [b]
    if case == "gz-replaced":
        a, b = tmp_path / "t.jsonl.1.gz", tmp_path / "t.jsonl"
        head = lines[:15]
        head[3] = head[3].replace('"qname":"', '"qname":"x', 1)
        whole = rechain(head + lines[15:])
        with gzip.open(a, "wt") as f:
            f.write("".join(ln + "\n" for ln in whole[:15]))
        write(b, whole[15:])
        return [a, b]
    raise ValueError(case)


@pytest.mark.parametrize("case", ["rewritten", "line-removed", "tail-cut",
                                  "head-cut", "rotated-removed",
                                  "gz-replaced"])
def test_tampering_is_caught_with_a_checkpoint(real_log, tmp_path, case,
                                               tlogcheck):
    key, vkey = keypair(tmp_path)
    cps = tmp_path / "cps.jsonl"
    text = checkpoint(key, cps, real_log)
    _, size, root = text.splitlines()
    files = tampered(real_log, tmp_path, case)
    r = cordon("verify", *files, "--key", vkey, "--checkpoints", cps)
    assert r.returncode == 1, (case, r.stdout, r.stderr)
    # the Go verifier agrees: the tree of the files is not the one signed
    r = go(tlogcheck, "tree", size, root, *files)
    assert r.returncode == 1, (case, r.stdout)


def test_forged_checkpoint_is_refused(real_log, tmp_path):
    key, vkey = keypair(tmp_path)
    cps = tmp_path / "cps.jsonl"
    checkpoint(key, cps, real_log)
    line = json.loads(cps.read_text())
    line["note"] = line["note"].replace("\n%d\n" % line["size"],
                                        "\n%d\n" % (line["size"] - 3), 1)
    cps.write_text(json.dumps(line) + "\n")
    r = cordon("verify", real_log, "--key", vkey, "--checkpoints", cps)
    assert r.returncode == 1
    assert "signature does not verify" in r.stderr, r.stderr
    # and a key of someone else is no good either
    other = tmp_path / "other"
    other.mkdir()
    _, vkey2 = keypair(other)
    r = cordon("verify", real_log, "--key", vkey2, "--checkpoints",
               tmp_path / "cps.jsonl")
    assert r.returncode == 1


def test_partial_log_needs_partial(real_log, tmp_path):
    key, vkey = keypair(tmp_path)
    cps = tmp_path / "cps.jsonl"
    lines = read_lines(real_log, 0, 0)
    part = tmp_path / "part.jsonl"
    write(part, lines[10:])
    checkpoint(key, cps, part)
    r = cordon("verify", part, "--key", vkey, "--checkpoints", cps)
    assert r.returncode == 1 and "seq 1" in r.stderr, r.stderr
    r = cordon("verify", part, "--key", vkey, "--checkpoints", cps,
               "--partial")
    assert "partial" in r.stdout, r.stdout


# ---- the daemon writes the checkpoints ([log] signing_key) ----

def signed_daemon(start_cordond, tmp_path, tag=None):
    key = tmp_path / "signing.pem"
    if not key.exists():
        r = cordon("keygen", "--origin", "cordon/test", "-o", key)
        assert r.returncode == 0, r.stderr
    return start_cordond({"log": {"signing_key": str(key),
                                  "origin": "cordon/test",
                                  "checkpoint_every": "200ms"}}, tag=tag)


def vkey_of(tmp_path):
    return (tmp_path / "signing.pem.pub").read_text().strip()


def checkpoints_of(d):
    path = Path(str(d.audit) + ".checkpoints")
    return path, [json.loads(ln) for ln in path.read_text().splitlines()]


def block(d, prefix, n):
    for i in range(n):
        udp_query(d.port, make_query("%s%d.binance.com" % (prefix, i)))


def test_daemon_signs_checkpoints(start_cordond, tmp_path, tlogcheck):
    import signal
    import time
    d = signed_daemon(start_cordond, tmp_path)
    block(d, "a", 5)
    time.sleep(0.5)                 # checkpoint_every passes
    d.proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    block(d, "b", 3)
    d.stop()
    lines = read_lines(d.audit, 0, 0)
    path, cps = checkpoints_of(d)
    assert len(cps) >= 3, cps       # due, reload, stop
    assert cps[-1]["size"] == len(lines), (cps[-1], len(lines))
    sizes = [c["size"] for c in cps]
    assert sizes == sorted(sizes)
    vkey = vkey_of(tmp_path)
    r = cordon("verify", d.audit, "--key", vkey, "--checkpoints", path)
    assert r.returncode == 0, r.stdout + r.stderr
    r = go(tlogcheck, "note", vkey, path)
    assert r.returncode == 0, r.stdout
    root = cps[-1]["note"].split("\n")[2]
    r = go(tlogcheck, "tree", cps[-1]["size"], root, d.audit)
    assert r.returncode == 0, r.stdout
    # the operator rewrites and re-chains a line: the held checkpoints
    # catch it
    edited = rechain([ln.replace("a2.binance.com", "a2.innocent.example")
                      for ln in lines])
    write(d.audit, edited)
    r = cordon("verify", d.audit, "--key", vkey, "--checkpoints", path)
    assert r.returncode == 1 and "altered" in r.stderr, r.stderr


def test_tree_continues_across_rotation_restart_and_kill(start_cordond,
                                                          tmp_path):
    import signal
    d = signed_daemon(start_cordond, tmp_path, tag="one")
    block(d, "r", 4)
    read_lines(d.audit, 6)
    rotated = Path(str(d.audit) + ".1")
    os.rename(d.audit, rotated)
    d.proc.send_signal(signal.SIGUSR1)
    block(d, "s", 3)
    d.stop()
    d2 = signed_daemon(start_cordond, tmp_path, tag="two")
    block(d2, "t", 3)
    read_lines(d2.audit, 1)
    import time
    time.sleep(0.5)
    d2.proc.send_signal(signal.SIGKILL)
    d2.proc.wait(5)
    d2.returncode = 0
    d3 = signed_daemon(start_cordond, tmp_path, tag="three")
    block(d3, "u", 2)
    d3.stop()
    path, cps = checkpoints_of(d3)
    total = len(read_lines(rotated, 0, 0)) + len(read_lines(d3.audit, 0, 0))
    assert cps[-1]["size"] == total, (cps[-1]["size"], total)
    r = cordon("verify", rotated, d3.audit, "--allow-gaps", "--key",
               vkey_of(tmp_path), "--checkpoints", path)
    assert r.returncode == 0, r.stdout + r.stderr
    # without the rotated file: cut head, caught
    r = cordon("verify", d3.audit, "--allow-gaps", "--key",
               vkey_of(tmp_path), "--checkpoints", path)
    assert r.returncode == 1
