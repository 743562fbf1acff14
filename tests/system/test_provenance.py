"""Provenance (issue 9, item 5): a source's `reference` and `ede` reach
the answers and the audit lines, the policy id is the full SHA-256 of
what decides answers, and a .cpol whose tables do not match its header
is refused (a forged file must not load under another policy's id)."""

import json
import re
import subprocess

import dns.rcode

from helpers import (MANIFEST, ede_list, metrics_until, read_lines,
                     udp_query, make_query)
import conftest
from conftest import CORDON

REF_MANIFEST = MANIFEST.replace(
    "[source exchanges]\nfile = exchanges.domains\nformat = domains\n"
    "category = exchange\nkind = block\n",
    "[source exchanges]\nfile = exchanges.domains\nformat = domains\n"
    "category = exchange\nkind = block\n"
    "reference = PBOC-2018-08-ORDER-7\nede = censored\n")


def blocked_records(path, n, timeout=3.0):
    lines = read_lines(path, n, timeout)
    return [json.loads(ln) for ln in lines if '"event"' not in ln]


def test_reference_and_ede_reach_answer_and_log(start_cordond):
    assert REF_MANIFEST != MANIFEST
    mport = conftest.free_port()
    d = start_cordond({"control": {"http": "127.0.0.1:%d" % mport}},
                      list_files={"sources.ini": REF_MANIFEST})
    resp = udp_query(d.port, make_query("www.binance.com", "A", edns=0))
    assert resp.rcode() == dns.rcode.NXDOMAIN
    codes = ede_list(resp)
    assert len(codes) == 1, codes
    code, text = codes[0]
    assert code == 16, codes            # ede = censored
    assert "exchanges" in text and "PBOC-2018-08-ORDER-7" in text, text
    # a list without them: 15 "Blocked", no reference
    resp = udp_query(d.port, make_query("foo.ico-scam.example", "A", edns=0))
    recs = [r for r in blocked_records(d.audit, 3)
            if r.get("qname") == "www.binance.com"]
    assert recs and recs[0]["reference"] == "PBOC-2018-08-ORDER-7", recs
    pid = recs[0]["policy"]
    assert re.fullmatch(r"[0-9a-f]{64}", pid), pid
    m = metrics_until(mport, {'cordon_policy_info{policy="%s"}' % pid: 1.0})
    assert m.get('cordon_policy_info{policy="%s"}' % pid) == 1.0
    # verify accepts the new member
    r = subprocess.run([CORDON, "audit", "verify", str(d.audit)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr


def test_bad_ede_and_reference_are_reported(tmp_path):
    (tmp_path / "x.domains").write_text("a.example\n")
    (tmp_path / "m.ini").write_text(
        "[source x]\nfile = x.domains\nformat = domains\nede = loud\n"
        "reference = a\"b\n")
    r = subprocess.run([CORDON, "check", str(tmp_path / "m.ini")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert re.search(r"m\.ini:4: .*ede.*blocked, censored, filtered or "
                     r"prohibited", r.stderr), r.stderr
    assert re.search(r"m\.ini:5: .*reference", r.stderr), r.stderr


def compile_to(tmp_path, name, domains):
    d = tmp_path / name
    d.mkdir()
    (d / "x.domains").write_text("".join(n + "\n" for n in domains))
    (d / "m.ini").write_text("[source x]\nfile = x.domains\n"
                             "format = domains\n")
    out = d / "out"
    r = subprocess.run([CORDON, "compile", str(d / "m.ini"), "-o", str(out)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return out / "policy.cpol"


def test_forged_cpol_is_refused(tmp_path):
    """The attack from the issue: take a 6-name .cpol, put the 4-name
    policy's header digest in, recompute the checksum."""
    import hashlib
    four = compile_to(tmp_path, "four", ["a.example", "b.example",
                                         "c.example", "d.example"])
    six = compile_to(tmp_path, "six", ["a.example", "b.example",
                                       "c.example", "d.example",
                                       "e.example", "f.example"])
    a = bytearray(four.read_bytes())
    b = bytearray(six.read_bytes())
    assert a[:8] == b"CORDCPOL"
    # header: magic 8, version 4, byte order 4, size 8, checksum 32 at
    # 24, policy digest 32 at 56
    b[56:88] = a[56:88]
    b[24:56] = bytes(32)
    b[24:56] = hashlib.sha256(bytes(b)).digest()
    forged = tmp_path / "forged.cpol"
    forged.write_bytes(bytes(b))
    r = subprocess.run([CORDON, "check", str(forged)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1, r.stdout
    assert "do not match the policy digest" in r.stderr, r.stderr
    # the genuine files still check
    for f in (four, six):
        r = subprocess.run([CORDON, "check", str(f)], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 0, r.stderr


def test_report_gives_changes_per_source(tmp_path):
    """report.json: entries added and removed per source, a name that
    moved lists counted in both, as well as the totals."""
    d = tmp_path / "m"
    d.mkdir()
    (d / "a.domains").write_text("one.example\ntwo.example\nmove.example\n")
    (d / "b.domains").write_text("three.example\n")
    (d / "n.cidr").write_text("192.0.2.0/24\n")
    (d / "m.ini").write_text(
        "[source a]\nfile = a.domains\nformat = domains\n\n"
        "[source b]\nfile = b.domains\nformat = domains\n\n"
        "[source n]\nfile = n.cidr\nformat = cidr\n")
    out = d / "out"

    def build():
        r = subprocess.run([CORDON, "compile", str(d / "m.ini"), "-o",
                            str(out)], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0, r.stderr
        rep = json.loads((out / "report.json").read_text())
        return rep, {s["name"]: s["changes"] for s in rep["sources"]}

    rep, ch = build()
    assert ch == {"a": {"added": 3, "removed": 0},
                  "b": {"added": 1, "removed": 0},
                  "n": {"added": 1, "removed": 0}}, ch
    (d / "a.domains").write_text("one.example\nfour.example\n")
    (d / "b.domains").write_text("three.example\nmove.example\n")
    (d / "n.cidr").write_text("192.0.2.0/24\n198.51.100.0/24\n")
    rep, ch = build()
    # a: +four -two -move; b: +move; n: +198.51.100.0/24
    assert ch == {"a": {"added": 1, "removed": 2},
                  "b": {"added": 1, "removed": 0},
                  "n": {"added": 1, "removed": 0}}, ch
    assert sorted(rep["changes"]["added"]) == ["four.example"]
    assert sorted(rep["changes"]["removed"]) == ["two.example"]
