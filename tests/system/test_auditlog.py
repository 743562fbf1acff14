"""The audit log of blocked attempts: one JSON line each, members in
order, seq and the SHA-256 chain, event lines, nothing lost on SIGTERM,
continued across restarts (PRODUCT.md, "Audit log")."""

import datetime
import hashlib
import json
import os
import re
import signal
import socket
import time

from helpers import (AUDIT_KEYS, GENESIS, block_records, make_query,
                     parse_lines, read_lines, tcp_connect, tcp_query,
                     udp_raw, verify_chain, wait_blocks)

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
HEX = re.compile(r"^[0-9a-f]{8,}$")


def ask_udp(port, qname, rdtype="A"):
    """Sends a query from a fresh socket; returns (client port, answer)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        data = udp_raw(port, make_query(qname, rdtype).to_wire(), sock=s)
        assert data is not None, "no answer for %s" % qname
        return s.getsockname()[1], data


def test_blocked_query_writes_one_line_in_member_order(cordond):
    before = time.time()
    port, _ = ask_udp(cordond.port, "www.binance.com", "AAAA")
    lines, blocks = wait_blocks(cordond.audit, 1)
    assert len(blocks) == 1, lines
    time.sleep(0.3)
    assert len(block_records(read_lines(cordond.audit, 0, 0))) == 1
    pairs = [p for p in parse_lines(lines) if "event" not in dict(p)][0]
    assert [k for k, _ in pairs] == AUDIT_KEYS
    rec = dict(pairs)
    assert TS.match(rec["ts"]), rec["ts"]
    ts = datetime.datetime.strptime(rec["ts"], "%Y-%m-%dT%H:%M:%S.%fZ")
    ts = ts.replace(tzinfo=datetime.timezone.utc).timestamp()
    assert before - 1 <= ts <= time.time() + 1
    assert rec["client"] == "127.0.0.1"
    assert rec["port"] == port
    assert rec["proto"] == "udp"
    assert rec["qname"] == "www.binance.com"
    assert rec["qtype"] == "AAAA"
    assert rec["action"] == "nxdomain"
    assert rec["trigger"] == "qname"
    assert rec["rule"] == "binance.com"
    assert rec["list"] == "exchanges"
    assert rec["category"] == "exchange"
    assert rec["answer_ip"] is None
    assert HEX.match(rec["policy"]), rec["policy"]
    assert isinstance(rec["seq"], int)


def test_tcp_blocked_query_logged_with_tcp_and_port(cordond):
    sock = tcp_connect(cordond.port)
    try:
        port = sock.getsockname()[1]
        tcp_query(cordond.port, make_query("x.bad.safe.example.com", "MX"),
                  sock=sock)
    finally:
        sock.close()
    _, blocks = wait_blocks(cordond.audit, 1)
    assert len(blocks) == 1
    rec = blocks[0]
    assert (rec["proto"], rec["port"], rec["qtype"]) == ("tcp", port, "MX")
    assert (rec["rule"], rec["list"], rec["category"]) == (
        "bad.safe.example.com", "ico", "ico")


def test_action_recorded(start_cordond):
    d = start_cordond({"policy": {"action": "sinkhole"}})
    ask_udp(d.port, "hosts-one.example")
    _, blocks = wait_blocks(d.audit, 1)
    assert [(b["action"], b["list"]) for b in blocks] == [
        ("sinkhole", "hostsfile")]


def test_allowed_queries_not_logged(cordond):
    for qname in ("allowed.test", "safe.example.com", "ok.ad-one.example"):
        ask_udp(cordond.port, qname)
    ask_udp(cordond.port, "json-one.example")
    lines, blocks = wait_blocks(cordond.audit, 1)
    time.sleep(0.3)
    blocks = block_records(read_lines(cordond.audit, 0, 0))
    assert [b["qname"] for b in blocks] == ["json-one.example"]


def test_seq_and_chain_over_every_line(cordond):
    for i in range(6):
        ask_udp(cordond.port, "n%d.binance.com" % i)
    lines, blocks = wait_blocks(cordond.audit, 6)
    assert [b["qname"] for b in blocks] == [
        "n%d.binance.com" % i for i in range(6)]
    assert json.loads(lines[0])["prev"] == GENESIS
    verify_chain(lines)


def test_startup_event_line_is_chained_with_policy_id(cordond):
    ask_udp(cordond.port, "binance.com")
    lines, blocks = wait_blocks(cordond.audit, 1)
    events = [json.loads(ln) for ln in lines if '"event"' in ln]
    assert events, "no event line at start-up:\n%s" % "\n".join(lines)
    # the start line, then the policy the run starts with
    assert json.loads(lines[0]).get("event") == "start", lines[0]
    first = json.loads(lines[1])
    assert first.get("event") == "policy", lines[1]
    assert first["policy"] == blocks[0]["policy"]
    verify_chain(lines)


def test_line_appears_within_one_second(cordond):
    start = time.monotonic()
    ask_udp(cordond.port, "quick.binance.com")
    _, blocks = wait_blocks(cordond.audit, 1, timeout=2.0)
    took = time.monotonic() - start
    assert len(blocks) == 1
    assert took <= 1.1, "audit line after %.2fs" % took


def test_every_answered_block_logged_after_sigterm(start_cordond):
    # client_rate 0: every line written, however fast one client asks
    cordond = start_cordond({"log": {"client_rate": "0"}})
    n = 300
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for i in range(n):
            data = udp_raw(cordond.port, make_query(
                "t%d.binance.com" % i).to_wire(), sock=s)
            assert data is not None, i
    assert cordond.stop() == 0, cordond.output()
    lines = read_lines(cordond.audit, 0, 0)
    blocks = block_records(lines)
    assert sorted(b["qname"] for b in blocks) == sorted(
        "t%d.binance.com" % i for i in range(n))
    verify_chain(lines)


def test_restart_continues_seq_and_chain(start_cordond):
    first = start_cordond(tag="first")
    for i in range(3):
        ask_udp(first.port, "r%d.binance.com" % i)
    assert first.stop() == 0
    count1 = len(read_lines(first.audit, 0, 0))
    second = start_cordond(tag="second")
    assert second.audit == first.audit
    for i in range(3, 5):
        ask_udp(second.port, "r%d.binance.com" % i)
    _, blocks = wait_blocks(second.audit, 5)
    assert second.stop() == 0
    lines = read_lines(second.audit, 0, 0)
    assert len(lines) > count1
    assert [b["qname"] for b in block_records(lines)] == [
        "r%d.binance.com" % i for i in range(5)]
    assert json.loads(lines[count1])["prev"] != GENESIS
    verify_chain(lines)


def test_query_log_records_every_query(start_cordond, tmp_path):
    qlog = tmp_path / "queries.jsonl"
    d = start_cordond({"log": {"queries": str(qlog)}})
    ask_udp(d.port, "plain.test")
    ask_udp(d.port, "www.binance.com")
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        names = [r["qname"] for r in block_records(read_lines(qlog, 0, 0))]
        if "plain.test" in names and "www.binance.com" in names:
            break
        time.sleep(0.05)
    assert "plain.test" in names and "www.binance.com" in names, names
    _, blocks = wait_blocks(d.audit, 1)
    time.sleep(0.2)
    assert [b["qname"] for b in block_records(
        read_lines(d.audit, 0, 0))] == ["www.binance.com"]
    verify_chain(read_lines(qlog, 0, 0))


def test_sigusr1_reopens_log_and_chain_continues(cordond):
    for i in range(2):
        ask_udp(cordond.port, "old%d.binance.com" % i)
    wait_blocks(cordond.audit, 2)
    rotated = cordond.audit.with_name(cordond.audit.name + ".1")
    os.rename(cordond.audit, rotated)
    os.kill(cordond.proc.pid, signal.SIGUSR1)
    time.sleep(0.3)
    ask_udp(cordond.port, "new0.binance.com")
    new_lines, blocks = wait_blocks(cordond.audit, 1)
    old_lines = read_lines(rotated, 0, 0)
    assert [b["qname"] for b in blocks] == ["new0.binance.com"], new_lines
    assert [b["qname"] for b in block_records(old_lines)] == [
        "old0.binance.com", "old1.binance.com"]
    first = json.loads(new_lines[0])
    assert first["prev"] == hashlib.sha256(
        old_lines[-1].encode()).hexdigest()
    assert first["seq"] == json.loads(old_lines[-1])["seq"] + 1
    verify_chain(old_lines + new_lines)


def test_hostile_qname_cannot_break_the_log(cordond):
    # a label with a quote, a backslash, NUL, newline, DEL and a high byte,
    # under a listed name: the line must stay one valid, chained JSON line
    label = b'a"b\\c\x00d\ne\x7f\xff}'
    qname = bytes([len(label)]) + label + b"\x07binance\x03com\x00"
    wire = (b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
            + qname + b"\x00\x01\x00\x01")
    data = udp_raw(cordond.port, wire)
    assert data is not None
    assert data[3] & 0xF == 3, "not NXDOMAIN"
    ask_udp(cordond.port, "after.binance.com")
    lines, blocks = wait_blocks(cordond.audit, 2)
    assert len(blocks) == 2, lines
    assert blocks[0]["rule"] == "binance.com"
    assert blocks[0]["qname"].endswith(".binance.com")
    assert "\n" not in blocks[0]["qname"] and "\x00" not in blocks[0][
        "qname"]
    assert blocks[1]["qname"] == "after.binance.com"
    verify_chain(lines)
