"""`cordon audit verify|search|report` on logs written here in cordond's
exact format (auditgen.py): verify passes an intact chain across rotated
and gzip'd files and names the first broken line and what broke it;
search filters and formats; report summarises in text and HTML (the day
chart's columns and dates, wording, UTF-8; test_report_browser.py renders
the page)."""

import csv
import datetime
import gzip
import io
import os
import re
import subprocess
from pathlib import Path

import pytest

import auditgen as ag

HERE = Path(__file__).resolve().parent
CORDON = os.environ.get("CORDON") or str(HERE.parents[1] / "daemon" / "cordon")

P1 = "5f3c1a0b2d4e6f70"
P2 = "77aa01c2d3e4f506"
CN = ag.geo_json("CN", 4134)


def bodies():
    """The known log: 10 lines, seq 1..10, two days and a bit."""
    return [
        ag.policy_body("2026-11-22T23:00:00.000Z", P1, None, 124, 3,
                       "start"),
        ag.block_body("2026-11-23T05:19:33.123Z", "192.0.2.7", 53211,
                      "www.binance.com", "binance.com", "exchanges",
                      geo=CN, policy=P1),
        ag.block_body("2026-11-23T06:00:00.000Z", "192.0.2.8", 40001,
                      "api.Binance.COM", "binance.com", "exchanges",
                      proto="tcp", qtype="AAAA", geo=CN, policy=P1),
        ag.block_body("2026-11-23T07:00:00.000Z", "198.51.100.20", 5353,
                      "ico-launch.example", "ico-launch.example", "ico",
                      category="ico", geo=ag.geo_json("US", 7922),
                      policy=P1),
        ag.block_body("2026-11-23T08:00:00.000Z", "2001:db8::5", 1234,
                      "cdn.otc-desk.example", "203.0.113.0/24",
                      "otc-ranges", category="otc", action="nodata",
                      trigger="ip", answer_ip="203.0.113.9",
                      geo=ag.geo_json(None, None, "SC", 64500), policy=P1),
        ag.block_body("2026-11-24T01:00:00.000Z", "192.0.2.7", 53212,
                      "notbinance.com", "notbinance.com", "exchanges",
                      geo=CN, policy=P1),
        ag.policy_body("2026-11-24T02:00:00.000Z", P2, P1, 130, 3,
                       "signal"),
        ag.block_body("2026-11-24T03:00:00.000Z", "192.0.2.9", 1000,
                      "www.binance.com", "binance.com", "exchanges",
                      policy=P2),
        ag.block_body("2026-11-25T10:00:00.000Z", "10.1.2.3", 2000,
                      "x,y.example", "x,y.example", "misc",
                      category="misc", trigger="cname", policy=P2),
        ag.block_body("2026-11-25T11:00:00.000Z", "192.0.2.7", 53213,
                      "www.binance.com", "binance.com", "exchanges",
                      policy=P2),
    ]


LINES = ag.chain(bodies())


def run(*args):
    p = subprocess.run([CORDON, "audit"] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


@pytest.fixture
def log(tmp_path):
    path = tmp_path / "blocked.log"
    ag.write_lines(path, LINES)
    return path


def write(path, lines):
    ag.write_lines(path, lines)
    return path


def seqs_of(json_out):
    return [int(re.match(r'\{"seq":(\d+),', l).group(1))
            for l in json_out.splitlines()]


# verify

def test_verify_intact_log(log):
    rc, out, err = run("verify", log)
    assert rc == 0, err
    assert err == ""
    assert "verified: 10 lines in 1 file, chain and sequence intact" in out
    assert "seq:      1 .. 10" in out
    assert ("ts:       2026-11-22T23:00:00.000Z .. "
            "2026-11-25T11:00:00.000Z") in out
    assert "%s (6 lines)" % P1 in out and "%s (4 lines)" % P2 in out
    assert "gaps:     none" in out
    assert ag.line_hash(LINES[-1]) in out


def test_verify_across_rotated_files(tmp_path):
    a = write(tmp_path / "blocked.log.1", LINES[:5])
    b = write(tmp_path / "blocked.log", LINES[5:])
    rc, out, err = run("verify", a, b)
    assert rc == 0, err
    assert "verified: 10 lines in 2 files" in out


def test_verify_across_gzipped_file(tmp_path):
    a = tmp_path / "blocked.log.2.gz"
    with gzip.open(a, "wt", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(LINES[:4]) + "\n")
    b = write(tmp_path / "blocked.log.1", LINES[4:7])
    c = write(tmp_path / "blocked.log", LINES[7:])
    rc, out, err = run("verify", a, b, c)
    assert rc == 0, err
    assert "verified: 10 lines in 3 files" in out


def test_verify_later_file_alone_notes_the_start(tmp_path):
    b = write(tmp_path / "blocked.log", LINES[5:])
    rc, out, err = run("verify", b)
    assert rc == 0
    assert "verified: 5 lines in 1 file" in out
    assert "%s:1: note: the log starts at seq 6" % b in err


def expect_broken(path_or_paths, where, kind):
    paths = path_or_paths if isinstance(path_or_paths, list) \
        else [path_or_paths]
    rc, out, err = run("verify", *paths)
    assert rc == 1, (out, err)
    first = err.splitlines()[0]
    assert first.startswith("cordon: %s: %s" % (where, kind)), err
    assert "verified" not in out
    return first


def test_verify_catches_edited_field(tmp_path):
    lines = list(LINES)
    lines[2] = lines[2].replace("api.Binance.COM", "api.example.org")
    p = write(tmp_path / "log", lines)
    msg = expect_broken(p, "%s:3" % p, "altered")
    assert "prev member of %s:4" % p in msg


def test_verify_catches_edited_prev(tmp_path):
    lines = list(LINES)
    lines[5] = lines[5][:-66] + "ab" * 32 + '"}'
    p = write(tmp_path / "log", lines)
    msg = expect_broken(p, "%s:6" % p, "altered")
    assert "its prev member does not match the SHA-256 of %s:5" % p in msg


def test_verify_catches_deleted_line(tmp_path):
    lines = LINES[:3] + LINES[4:]
    p = write(tmp_path / "log", lines)
    msg = expect_broken(p, "%s:4" % p, "missing lines")
    assert "seq jumps from 3 to 5 (1 line missing)" in msg


def test_verify_catches_swapped_lines(tmp_path):
    lines = list(LINES)
    lines[4], lines[5] = lines[5], lines[4]
    p = write(tmp_path / "log", lines)
    expect_broken(p, "%s:5" % p, "reordered")


def test_verify_catches_truncated_last_line(tmp_path):
    p = tmp_path / "log"
    data = ("\n".join(LINES) + "\n").encode()
    p.write_bytes(data[:-30])
    expect_broken(p, "%s:10" % p, "truncated")


def test_verify_catches_removed_first_line_of_second_file(tmp_path):
    a = write(tmp_path / "blocked.log.1", LINES[:5])
    b = write(tmp_path / "blocked.log", LINES[6:])
    msg = expect_broken([a, b], "%s:1" % b, "missing lines")
    assert "seq jumps from 5 to 7" in msg


def test_verify_catches_foreign_line(tmp_path):
    lines = LINES[:3] + ['{"hello":"world"}'] + LINES[3:]
    p = write(tmp_path / "log", lines)
    expect_broken(p, "%s:4" % p, "not an audit line")


def test_verify_catches_edit_in_last_line_of_first_file(tmp_path):
    lines = list(LINES)
    lines[4] = lines[4].replace('"nodata"', '"refused"')
    a = write(tmp_path / "blocked.log.1", lines[:5])
    b = write(tmp_path / "blocked.log", lines[5:])
    expect_broken([a, b], "%s:5" % a, "altered")


def gap_log(tmp_path):
    b = bodies()
    b.insert(3, ag.gap_body("2026-11-23T06:30:00.000Z", 3))
    return write(tmp_path / "gaps.log", ag.chain(b))


def test_verify_reports_gap_events(tmp_path):
    p = gap_log(tmp_path)
    rc, out, err = run("verify", p)
    assert rc == 1
    assert "cordon: %s:4: gap event: 3 lines lost" % p in err
    assert "--allow-gaps" in err
    assert "gaps:     1 gap event, 3 lines lost" in out


def test_verify_allow_gaps(tmp_path):
    p = gap_log(tmp_path)
    rc, out, err = run("verify", "--allow-gaps", p)
    assert rc == 0
    assert "cordon: %s:4: gap event: 3 lines lost" % p in err
    assert "verified: 11 lines" in out


def test_verify_unreadable_file(tmp_path):
    rc, out, err = run("verify", tmp_path / "nope.log")
    assert rc == 1
    assert err == "cordon: %s: No such file or directory\n" % (
        tmp_path / "nope.log")


def test_verify_corrupt_gzip(tmp_path, log):
    p = tmp_path / "x.log.gz"
    p.write_bytes(gzip.compress(log.read_bytes())[:-20])
    rc, out, err = run("verify", p)
    assert rc == 1
    assert err.startswith("cordon: %s: " % p)


@pytest.mark.parametrize("tail", [b"garbage\n", b"\0" * 16,
                                  b"\x1f"])
def test_verify_bytes_after_the_gzip_data(tmp_path, log, tail):
    """zlib's gzread() ignores what follows the last member; a log under
    audit may hold nothing the daemon did not write (issue 9, item 3)."""
    p = tmp_path / "x.log.gz"
    p.write_bytes(gzip.compress(log.read_bytes()) + tail)
    rc, out, err = run("verify", p)
    assert rc == 1, out
    assert err.startswith("cordon: %s: " % p) and (
        "after the end of the gzip data" in err), err
    for cmd in ("search", "report"):
        rc, out, err = run(cmd, p)
        assert rc == 1 and "after the end of the gzip data" in err, (
            cmd, err)


def test_verify_concatenated_gzip_members(tmp_path, log):
    """cat a.gz b.gz is a gzip file: both halves are read."""
    data = log.read_bytes().splitlines(keepends=True)
    half = len(data) // 2
    p = tmp_path / "x.log.gz"
    p.write_bytes(gzip.compress(b"".join(data[:half])) +
                  gzip.compress(b"".join(data[half:])))
    rc, out, err = run("verify", p)
    rc2, out2, _ = run("verify", log)
    assert rc == 0 == rc2 and out == out2.replace(str(log), str(p)), (
        out, err)


@pytest.mark.parametrize("args", [
    [], ["frob"], ["verify"], ["search"], ["report"],
    ["verify", "--bogus", "x"],
    ["search", "LOG", "--format", "xml"],
    ["search", "LOG", "--since", "yesterday"],
    ["search", "LOG", "--until", "2026-02-30"],
    ["search", "LOG", "--client", "300.1.1.1"],
    ["search", "LOG", "--client", "10.0.0.1/8"],
    ["report", "LOG", "--format", "csv"],
])
def test_usage_errors(log, args):
    rc, out, err = run(*[str(log) if a == "LOG" else a for a in args])
    assert rc == 2
    assert "usage: cordon audit verify" in err
    assert out == ""


# search

@pytest.mark.parametrize("filters,want", [
    ([], [2, 3, 4, 5, 6, 8, 9, 10]),
    (["--domain", "binance.com"], [2, 3, 8, 10]),
    (["--domain", "BINANCE.com."], [2, 3, 8, 10]),
    (["--domain", "api.binance.com"], [3]),
    (["--domain", "example"], [4, 5, 9]),
    (["--client", "192.0.2.0/24"], [2, 3, 6, 8, 10]),
    (["--client", "192.0.2.7"], [2, 6, 10]),
    (["--client", "2001:db8::/32"], [5]),
    (["--list", "exchanges"], [2, 3, 6, 8, 10]),
    (["--list", "ico"], [4]),
    (["--trigger", "ip"], [5]),
    (["--trigger", "cname"], [9]),
    (["--country", "cn"], [2, 3, 6]),
    (["--country", "SC"], [5]),
    (["--since", "2026-11-24"], [6, 8, 9, 10]),
    (["--until", "2026-11-23"], [2, 3, 4, 5]),
    (["--since", "2026-11-23T06:00:00Z", "--until",
      "2026-11-23T07:00:00Z"], [3, 4]),
    (["--since", "2026-11-23T07:00:00+01:00"], [3, 4, 5, 6, 8, 9, 10]),
    (["--domain", "binance.com", "--client", "192.0.2.7",
      "--since", "2026-11-24"], [10]),
    (["--list", "nosuchlist"], []),
])
def test_search_filters(log, filters, want):
    rc, out, err = run("search", log, "--format", "json", *filters)
    assert rc == 0, err
    assert seqs_of(out) == want


def test_search_json_repeats_lines_exactly(log):
    rc, out, err = run("search", log, "--format", "json", "--list", "ico")
    assert rc == 0
    assert out == LINES[3] + "\n"


def test_search_csv(log):
    rc, out, err = run("search", log, "--format", "csv", "--domain",
                       "example")
    assert rc == 0, err
    assert out == (
        "ts,client,port,proto,qname,qtype,action,trigger,rule,list,"
        "category,answer_ip,seq\n"
        "2026-11-23T07:00:00.000Z,198.51.100.20,5353,udp,"
        "ico-launch.example,A,nxdomain,qname,ico-launch.example,ico,ico,,"
        "4\n"
        "2026-11-23T08:00:00.000Z,2001:db8::5,1234,udp,"
        "cdn.otc-desk.example,A,nodata,ip,203.0.113.0/24,otc-ranges,otc,"
        "203.0.113.9,5\n"
        "2026-11-25T10:00:00.000Z,10.1.2.3,2000,udp,\"x,y.example\",A,"
        "nxdomain,cname,\"x,y.example\",misc,misc,,9\n")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[3][4] == "x,y.example"


def test_search_table(log):
    rc, out, err = run("search", log, "--domain", "binance.com")
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["SEQ", "TS", "CLIENT", "QNAME", "QTYPE",
                                "ACTION", "TRIGGER", "LIST", "RULE"]
    assert [l.split() for l in lines[1:]] == [
        ["2", "2026-11-23T05:19:33.123Z", "192.0.2.7", "www.binance.com",
         "A", "nxdomain", "qname", "exchanges", "binance.com"],
        ["3", "2026-11-23T06:00:00.000Z", "192.0.2.8", "api.Binance.COM",
         "AAAA", "nxdomain", "qname", "exchanges", "binance.com"],
        ["8", "2026-11-24T03:00:00.000Z", "192.0.2.9", "www.binance.com",
         "A", "nxdomain", "qname", "exchanges", "binance.com"],
        ["10", "2026-11-25T11:00:00.000Z", "192.0.2.7", "www.binance.com",
         "A", "nxdomain", "qname", "exchanges", "binance.com"],
    ]
    # aligned: every column starts at the same offset on every line
    starts = [m.start() for m in re.finditer(r"\S+", lines[0])]
    for l in lines[1:]:
        assert [m.start() for m in re.finditer(r"\S+", l)] == starts


def test_search_across_files_and_bad_line(tmp_path):
    a = write(tmp_path / "a.log", LINES[:5] + ["garbage"])
    b = write(tmp_path / "b.log", LINES[5:])
    rc, out, err = run("search", a, b, "--format", "json")
    assert rc == 1
    assert "cordon: %s:6: not an audit line" % a in err
    assert seqs_of(out) == [2, 3, 4, 5, 6, 8, 9, 10]


# report

def test_report_text(log):
    rc, out, err = run("report", log)
    assert rc == 0, err
    assert "period:   2026-11-22T23:00:00.000Z .. 2026-11-25T11:00:00.000Z" \
        " (seq 1 .. 10)" in out
    assert "blocked:  8 attempts, 6 names, 6 clients" in out
    assert "events:   2 (2 policy changes, 0 gaps)" in out
    sec = sections(out)
    assert sec["Blocked per day"] == [["2026-11-23", "4", "50.0%"],
                                      ["2026-11-24", "2", "25.0%"],
                                      ["2026-11-25", "2", "25.0%"]]
    assert sec["Top 10 names"][0] == ["www.binance.com", "3", "37.5%"]
    assert ["api.binance.com", "1", "12.5%"] in sec["Top 10 names"]
    assert sec["Top 10 clients"][0] == ["192.0.2.7", "3", "37.5%"]
    assert sec["By list"][0] == ["exchanges", "5", "62.5%"]
    assert [r[0] for r in sec["By trigger"]] == ["qname", "cname", "ip"]
    assert sec["By client country"] == [["CN", "3", "37.5%"],
                                        ["US", "1", "12.5%"]]
    assert sec["By answer country"] == [["SC", "1", "12.5%"]]
    assert "  in force at the start: (none)" in out
    assert ("  2026-11-22T23:00:00.000Z  %s replaces (none) (124 entries, "
            "3 lists, by start)" % P1) in out
    assert ("  2026-11-24T02:00:00.000Z  %s replaces %s (130 entries, "
            "3 lists, by signal)" % (P2, P1)) in out
    assert sec["Gaps"] == [["none"]]


def sections(text):
    """Report text -> {title: [row words]}."""
    out, cur = {}, None
    for line in text.splitlines():
        if line and not line.startswith(" ") and ":" not in line:
            cur = out.setdefault(line, [])
        elif cur is not None and line.startswith("  "):
            cur.append(line.split())
    return out


def test_report_period_and_policy_in_force(log):
    rc, out, err = run("report", log, "--since", "2026-11-24",
                       "--until", "2026-11-24")
    assert rc == 0, err
    assert "blocked:  2 attempts" in out
    assert "  in force at the start: %s" % P1 in out
    assert "%s replaces %s" % (P2, P1) in out
    assert "by start" not in out
    assert sections(out)["Blocked per day"] == [["2026-11-24", "2",
                                                 "100.0%"]]


def test_report_policy_in_force_from_blocked_lines(tmp_path):
    p = write(tmp_path / "log", LINES[1:])
    rc, out, err = run("report", p, "--since", "2026-11-23T06:30:00Z")
    assert rc == 0, err
    assert "  in force at the start: %s\n" % P1 in out
    assert "blocked:  6 attempts" in out


def test_report_gaps(tmp_path):
    p = gap_log(tmp_path)
    rc, out, err = run("report", p)
    assert rc == 0, err
    assert sections(out)["Gaps"] == [["2026-11-23T06:30:00.000Z",
                                      "%s:4" % p, "3", "lines", "lost"]]


def test_report_html(tmp_path, log):
    html = tmp_path / "report.html"
    rc, out, err = run("report", log, "--html", html)
    assert rc == 0, err
    assert "Blocked per day" in out
    page = html.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert page.rstrip().endswith("</html>")
    assert "<style>" in page
    assert page.count("<svg") >= 7
    assert "<rect" in page
    assert not re.search(r'(src|href)\s*=\s*["\']?\s*(https?:)?//', page)
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page.lower()
    for text in ("Blocked per day", "Top 10 names", "Top 10 clients",
                 "By list", "By trigger", "By client country", "Policies",
                 "Gaps", "www.binance.com", P1, P2):
        assert text in page


def test_report_html_escapes_names(tmp_path):
    lines = ag.chain([ag.block_body(
        "2026-11-23T05:19:33.123Z", "192.0.2.7", 1, "<script>x</script>.ex",
        "ex", "a&b\"list", policy=P1)])
    p = write(tmp_path / "log", lines)
    html = tmp_path / "r.html"
    rc, out, err = run("report", p, "--html", html)
    assert rc == 0, err
    page = html.read_text()
    assert "<script" not in page
    assert "&lt;script&gt;x&lt;/script&gt;.ex" in page
    assert "a&amp;b&quot;list" in page


def test_report_unwritable_html(log, tmp_path):
    rc, out, err = run("report", log, "--html", tmp_path / "no" / "r.html")
    assert rc == 1
    assert "cordon: %s: No such file or directory" % (
        tmp_path / "no" / "r.html") in err


def test_report_singular_wording(tmp_path):
    p = write(tmp_path / "log", ag.chain([
        ag.policy_body("2026-11-22T23:00:00.000Z", P1, None, 1, 1, "start"),
        ag.block_body("2026-11-23T05:19:33.123Z", "192.0.2.7", 1,
                      "www.binance.com", "binance.com", "exchanges",
                      policy=P1),
        ag.gap_body("2026-11-23T06:00:00.000Z", 1)]))
    html = tmp_path / "r.html"
    rc, out, err = run("report", p, "--html", html)
    assert rc == 0, err
    assert "blocked:  1 attempt, 1 name, 1 client\n" in out
    assert "events:   2 (1 policy change, 1 gap)\n" in out
    assert "(1 entry, 1 list, by start)" in out
    assert sections(out)["Gaps"] == [["2026-11-23T06:00:00.000Z",
                                      "%s:3" % p, "1", "line", "lost"]]
    page = html.read_text()
    assert "<td>1 attempt, 1 name, 1 client</td>" in page
    assert "<td>2 (1 policy change, 1 gap)</td>" in page
    for wrong in ("1 attempts", "1 names", "1 clients", "1 policy changes",
                  "1 gaps", "1 entries", "1 lists", "1 lines"):
        assert wrong not in out and wrong not in page, wrong


def test_report_invalid_utf8(tmp_path):
    """Raw bytes from the log that are not UTF-8 come out escaped (\\xHH)
    in text and as U+FFFD in HTML, one for each byte; a C1 control
    escaped in text, '?' in HTML."""
    line, = ag.chain([ag.block_body(
        "2026-11-23T05:19:33.123Z", "192.0.2.7", 1, "caf\u00e9.example",
        "ex", "LISTNAME", policy=P1)])
    raw = line.encode().replace(b"LISTNAME", b"bad\xffname\xc2\x9b\xe6\x97")
    p = tmp_path / "log"
    p.write_bytes(raw + b"\n")
    html = tmp_path / "r.html"
    rc, out, err = run("report", p, "--html", html)
    assert rc == 0, err
    assert sections(out)["By list"][0][0] == \
        "bad\\xFFname\\u{009B}\\xE6\\x97"
    assert sections(out)["Top 10 names"][0][0] == "caf\u00e9.example"
    page = html.read_bytes().decode("utf-8")     # strict: valid UTF-8
    assert "bad\ufffdname?\ufffd\ufffd<" in page
    assert "caf\u00e9.example" in page


def day_log(tmp_path, first, days):
    """A log with one block on each of days (offsets from first)."""
    bodies = []
    for i, d in enumerate(days):
        ts = (first + datetime.timedelta(days=d, hours=1)).strftime(
            "%Y-%m-%dT%H:%M:%S.000Z")
        bodies.extend([ag.block_body(ts, "192.0.2.7", 1, "x.example",
                                     "x.example", "l", policy=P1)] *
                      (1 + i % 3))
    return write(tmp_path / "days.log", ag.chain(bodies))


def day_chart(page):
    """The day chart of a report page: [(title, count text)], the dates
    under it and its note, if any."""
    sec = re.search(r"<h2>Blocked per day</h2>\n(.*?)</svg>", page,
                    re.S).group(1)
    cols = re.findall(r"<g><title>([^<]*)</title><rect class=\"col\"[^>]*/>"
                      r"<text class=\"count\"[^>]*>(\d+)</text></g>", sec)
    dates = re.findall(r"<text class=\"date\"[^>]*>([^<]*)</text>", sec)
    note = re.search(r"<p>([^<]*)</p>", sec)
    return cols, dates, note and note.group(1)


def test_report_day_chart_long_period(tmp_path):
    # 40 days, blocks on some: every day a column, gaps at zero.
    first = datetime.datetime(2026, 10, 1)
    with_data = [0, 1, 5, 6, 7, 20, 33, 39]
    p = day_log(tmp_path, first, with_data)
    html = tmp_path / "r.html"
    rc, out, err = run("report", p, "--html", html)
    assert rc == 0, err
    cols, dates, note = day_chart(html.read_text())
    assert note is None
    days = [(first + datetime.timedelta(days=i)).strftime("%Y-%m-%d")
            for i in range(40)]
    want = {d: 1 + i % 3 for i, d in enumerate(days[i] for i in with_data)}
    assert cols == [("%s: %d" % (d, want.get(d, 0)), str(want.get(d, 0)))
                    for d in days]
    # Dates: the first, the last and every so many between.
    assert dates[0] == days[0] and dates[-1] == days[-1]
    at = [days.index(d) for d in dates[1:-1]]
    step = at[0]
    assert step >= 2 and at == list(range(step, at[-1] + 1, step)), at
    assert 39 - at[-1] <= step and len(dates) >= 6


def test_report_day_chart_short_period_dates_every_day(tmp_path):
    first = datetime.datetime(2026, 12, 25)
    p = day_log(tmp_path, first, [0, 13])      # over the new year
    html = tmp_path / "r.html"
    rc, out, err = run("report", p, "--html", html)
    assert rc == 0, err
    cols, dates, _ = day_chart(html.read_text())
    days = [(first + datetime.timedelta(days=i)).strftime("%Y-%m-%d")
            for i in range(14)]
    assert dates == days
    assert [c for _, c in cols] == ["1"] + ["0"] * 12 + ["2"]


def test_report_day_chart_weeks_past_60_days(tmp_path):
    first = datetime.datetime(2026, 1, 1)
    p = day_log(tmp_path, first, [0, 8, 9, 99])
    html = tmp_path / "r.html"
    rc, out, err = run("report", p, "--html", html)
    assert rc == 0, err
    page = html.read_text()
    cols, dates, note = day_chart(page)
    assert note == "One column per 7 days, from 2026-01-01."
    assert len(cols) == 15      # 100 days
    assert cols[0] == ("2026-01-01 .. 2026-01-07: 1", "1")
    assert cols[1] == ("2026-01-08 .. 2026-01-14: 5", "5")
    assert cols[14] == ("2026-04-09 .. 2026-04-10: 1", "1")
    assert all(c == "0" for _, c in cols[2:14])
    assert dates[0] == "2026-01-01" and dates[-1] == "2026-04-09"
    # The table still has each day with data.
    assert sections(out)["Blocked per day"] == [
        ["2026-01-01", "1", "14.3%"], ["2026-01-09", "2", "28.6%"],
        ["2026-01-10", "3", "42.9%"], ["2026-04-10", "1", "14.3%"]]


# ---- hostile log files (issue 9, item 6) ---------------------------------

def hostile_log(tmp_path):
    """One line whose qname, rule and list an attacker chose: formulas,
    terminal escapes, a right-to-left override."""
    lines = ag.chain([
        ag.block_body("2026-11-23T05:19:33.123Z", "192.0.2.7", 1,
                      "=cmd|' /C calc'!A0", "+SUM(1)", "@list",
                      category="-2+3"),
        ag.block_body("2026-11-23T05:19:34.123Z", "192.0.2.7", 2,
                      "a\u001b]0;owned\u0007.example", "\tx", "\rr",
                      category="evil\u202egpj.exe")])
    p = tmp_path / "hostile.jsonl"
    p.write_text("".join(ln + "\n" for ln in lines))
    return p


def test_csv_cells_are_defused(tmp_path):
    rc, out, err = run("search", hostile_log(tmp_path), "--format", "csv")
    assert rc == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    head = rows[0]
    first = dict(zip(head, rows[1]))
    second = dict(zip(head, rows[2]))
    assert first["qname"] == "'=cmd|' /C calc'!A0"
    assert first["rule"] == "'+SUM(1)"
    assert first["list"] == "'@list"
    assert first["category"] == "'-2+3"
    assert second["rule"] == "'\\x09x"
    assert second["list"] == "'\\x0Dr"
    # no cell of any row starts with what a spreadsheet runs
    for row in rows[1:]:
        for cell in row:
            assert not cell[:1] in ("=", "+", "-", "@", "\t", "\r"), row
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert second["qname"] == "a\\x1B]0;owned\\x07.example"
    assert second["category"] == "evil\\u{202E}gpj.exe"


def test_table_escapes_controls_and_bidi(tmp_path):
    rc, out, err = run("search", hostile_log(tmp_path))
    assert rc == 0, err
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "a\\x1B]0;owned\\x07.example" in out
    rc, out, err = run("report", hostile_log(tmp_path))
    assert rc == 0, err
    assert "\x1b" not in out and "\u202e" not in out


def test_gz_of_empty_lines_reports_a_count(tmp_path):
    """A tiny .gz that inflates to millions of empty lines: a bounded
    number of messages and a count, not one message per line."""
    p = tmp_path / "bomb.jsonl.gz"
    with gzip.open(p, "wb", compresslevel=9) as f:
        chunk = b"\n" * (1 << 20)
        for _ in range(3):
            f.write(chunk)
    assert p.stat().st_size < 20000
    for cmd in ("search", "report"):
        r = subprocess.run([CORDON, "audit", cmd, str(p)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=60)
        assert r.returncode == 1
        assert len(r.stderr) < 4000, len(r.stderr)
        assert b"3145728 lines are not audit lines" in r.stderr, r.stderr


# ---- strict line grammar for verify (issue 9, item 3) ----

@pytest.mark.parametrize("edit,why", [
    (lambda b: b + ',"seq":99', "appears twice"),
    (lambda b: b + ',"event":"policy"', "blocked-attempt members"),
    (lambda b: b + ',"note":"hello"', "does not write"),
    (lambda b: b.replace('"qname":"www.binance.com",', ''),
     "without its members"),
])
def test_verify_refuses_lines_the_daemon_never_writes(tmp_path, edit, why):
    """Each edit is re-chained, as an attacker would: the chain holds,
    the grammar does not."""
    body = ag.block_body("2026-11-23T05:19:33.123Z", "192.0.2.7", 1,
                         "www.binance.com", "binance.com", "exchanges")
    good = ag.chain([body, body])
    p = tmp_path / "good.jsonl"
    p.write_text("".join(ln + "\n" for ln in good))
    rc, out, err = run("verify", p)
    assert rc == 0, err
    bad = ag.chain([body, edit(body)])
    p = tmp_path / "bad.jsonl"
    p.write_text("".join(ln + "\n" for ln in bad))
    rc, out, err = run("verify", p)
    assert rc == 1 and why in err, err
