"""`cordon audit report --html` loaded in a real browser: Debian's chromium,
headless.  A known log (auditgen.py) is reported once; chromium dumps the
DOM it rendered, and every chart must be there with one bar per row of the
known counts, its labels (escaped, cut to the room they have on whole
characters, the full text in a tooltip), a column for every day of the
period with its count, and nothing that loads from elsewhere.  A copy of
the page with a measuring script added tells where chromium laid out each
label: all of them inside their chart, dates not on top of each other.
Then chromium takes a screenshot, which must show the bars and columns in
the report's own colours.

CHROMIUM overrides the browser (default: `chromium` on PATH); without one
the tests are skipped (scripts/setup installs Debian's package)."""

import json
import os
import shutil
import signal
import struct
import subprocess
import tempfile
import zlib
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

import auditgen as ag

HERE = Path(__file__).resolve().parent
CORDON = os.environ.get("CORDON") or str(HERE.parents[1] / "daemon" / "cordon")
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium")
BROWSER_TIMEOUT = 25            # each run; both runs take ~5 s here
WINDOW = (1200, 2000)

# The report's geometry and colours (daemon/audit/auditreport.c).
BAR_W, COL_H, TOP_N = 420, 160, 10
BAR_RGB = (0xb0, 0x3a, 0x2e)    # .bar
COL_RGB = (0x2e, 0x6d, 0xb0)    # .col

P1 = "5f3c1a0b2d4e6f70"
HOSTILE = '<img src="http://127.0.0.1:9/x.png">.example'
LONG = ("a-very-long-subdomain-label-for-layout-checks.tracking."
        "exchange-mirror.example")
# Two-, three- and four-byte characters, long enough to be cut among the
# three-byte ones (a cut at 48 bytes would split one).
UTF8 = "\u00e9" * 10 + "\u65e5\u672c\u8a9e" * 10 + "\U0001f600.example"
# 48 of the widest letter: wider than the room for labels.
WIDE = "W" * 48
# (qname, how often); 12 names, so the top ten leaves two out.
NAMES = [("www.binance.com", 5), ("WWW.Binance.COM", 1),
         ("api.binance.com", 4), ("ico-launch.example", 3),
         ("cdn.otc-desk.example", 2), (UTF8, 2), (HOSTILE, 1),
         (LONG, 1)] + [("n%02d.example" % i, 1) for i in range(1, 6)]
# November days and how many attempts on each (24 in all); no 6th, which
# the chart must still show.
DAYS = [2, 3, 4, 5, 7, 8]
PER_DAY = [7, 5, 1, 3, 6, 2]
DAY_OF = [d for d, n in zip(DAYS, PER_DAY) for _ in range(n)]
CLIENTS = ["192.0.2.7", "192.0.2.7", "198.51.100.20", "2001:db8::5",
           "10.1.2.3"]
LISTS = ["exchanges", "exchanges", "ico", "otc", WIDE]
TRIGGERS = ["qname", "qname", "qname", "cname", "ip"]
CLIENT_CC = [("CN", 4134), ("CN", 4134), ("US", 7922), ("DE", 3320), None]


def records():
    """The known blocked attempts, as dicts of what the report counts."""
    out, i = [], 0
    for name, n in NAMES:
        for _ in range(n):
            trigger = TRIGGERS[i % len(TRIGGERS)]
            out.append({
                "day": "2026-11-%02d" % DAY_OF[i],
                "secs": 3600 + 60 * i,
                "qname": name,
                "client": CLIENTS[i % len(CLIENTS)],
                "list": LISTS[i % len(LISTS)],
                "trigger": trigger,
                "action": "nodata" if trigger == "ip" else "nxdomain",
                "answer_ip": "203.0.113.9" if trigger == "ip" else None,
                "client_cc": CLIENT_CC[i % len(CLIENT_CC)],
                "answer_cc": ("SC", 64500) if trigger == "ip" else None,
            })
            i += 1
    return out


RECS = records()


def log_lines():
    bodies = [ag.policy_body("2026-11-01T00:00:00.000Z", P1, None, 124, 3,
                             "start")]
    for r in sorted(RECS, key=lambda r: (r["day"], r["secs"])):
        geo = None
        if r["client_cc"] or r["answer_cc"]:
            geo = ag.geo_json(*(r["client_cc"] or (None, None)),
                              *(r["answer_cc"] or (None, None)))
        bodies.append(ag.block_body(
            ag.ts_text(int(r["day"][8:]), r["secs"]), r["client"], 5353,
            r["qname"], r["qname"].lower(), r["list"],
            trigger=r["trigger"], action=r["action"],
            answer_ip=r["answer_ip"], geo=geo, policy=P1))
    return ag.chain(bodies)


def ranked(counter, limit=None, by_key=False):
    """[(key, count)] as the report ranks them: most first, then by key
    (strcmp, which is Python's order for ASCII); days by key."""
    rows = sorted(counter.items(),
                  key=(lambda kv: kv[0]) if by_key else
                  (lambda kv: (-kv[1], kv[0])))
    return rows[:limit] if limit else rows


def tally(field, fn=lambda v: v):
    return Counter(fn(r[field]) for r in RECS if r[field] is not None)


EXPECTED = {
    "Blocked per day": ranked(tally("day"), by_key=True),
    # Names are counted without regard to ASCII case.
    "Top 10 names": ranked(tally("qname", str.lower), TOP_N),
    "Top 10 clients": ranked(tally("client"), TOP_N),
    "By list": ranked(tally("list")),
    "By trigger": ranked(tally("trigger")),
    "By action": ranked(tally("action")),
    "By client country": ranked(tally("client_cc", lambda p: p[0])),
    "By answer country": ranked(tally("answer_cc", lambda p: p[0])),
}


def check_label(label, key):
    """A chart label is its key, or a prefix of whole characters and an
    ellipsis."""
    if label == key:
        return
    assert label.endswith("\u2026"), (label, key)
    assert key.startswith(label[:-1]) and len(label) - 1 < len(key), (
        label, key)
    assert "\ufffd" not in label


# Every day from the first to the last with data, with its count.
ALL_DAYS = [("2026-11-%02d" % d, dict(zip(DAYS, PER_DAY)).get(d, 0))
            for d in range(DAYS[0], DAYS[-1] + 1)]


# The rendered DOM, as a small tree.

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
        "meta", "param", "source", "track", "wbr"}


class Node:
    def __init__(self, tag, attrs, parent=None):
        self.tag, self.attrs, self.parent = tag, dict(attrs), parent
        self.children = []
        self.text = ""         # own text, not the children's

    def walk(self):
        yield self
        for c in self.children:
            yield from c.walk()

    def find_all(self, tag):
        return [n for n in self.walk() if n.tag == tag]

    def all_text(self):
        return self.text + "".join(c.all_text() for c in self.children)


class TreeBuilder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.cur = Node("#document", [])

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.cur)
        self.cur.children.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        n = self.cur
        while n is not self.root and n.tag != tag:
            n = n.parent
        if n is not self.root:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.text += data


def parse_dom(text):
    b = TreeBuilder()
    b.feed(text)
    b.close()
    return b.root


# PNG, decoded with zlib and struct only.

def png_pixels(data):
    """(width, height, rows of RGB(A) bytes) of an 8-bit non-interlaced
    truecolour PNG, which is what chromium writes."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, ihdr = 8, [], None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    w, h, depth, ctype, _, _, interlace = ihdr
    assert depth == 8 and ctype in (2, 6) and interlace == 0, ihdr
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    m7 = int.from_bytes(b"\x7f" * stride, "big")
    m8 = int.from_bytes(b"\x80" * stride, "big")
    prev, rows = bytes(stride), []
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)]
        if f == 0:
            cur = line
        elif f == 2:    # Up, bytewise mod 256 on big integers
            a = int.from_bytes(line, "big")
            b = int.from_bytes(prev, "big")
            cur = (((a & m7) + (b & m7)) ^ ((a ^ b) & m8)).to_bytes(
                stride, "big")
        else:
            cur = bytearray(line)
            for i in range(stride):
                left = cur[i - bpp] if i >= bpp else 0
                if f == 1:
                    cur[i] = (cur[i] + left) & 0xff
                elif f == 3:
                    cur[i] = (cur[i] + ((left + prev[i]) >> 1)) & 0xff
                elif f == 4:
                    up = prev[i]
                    ul = prev[i - bpp] if i >= bpp else 0
                    p = left + up - ul
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - ul)
                    pred = left if pa <= pb and pa <= pc else (
                        up if pb <= pc else ul)
                    cur[i] = (cur[i] + pred) & 0xff
                else:
                    raise AssertionError("PNG filter %d" % f)
            cur = bytes(cur)
        rows.append(cur)
        prev = cur
    return w, h, bpp, rows


def rgb_at(rows, bpp, x, y):
    return tuple(rows[y][x * bpp:x * bpp + 3])


def runs(flags):
    """How many runs of True in a sequence of booleans."""
    n, last = 0, False
    for f in flags:
        n += f and not last
        last = f
    return n


# The browser.

def chromium(tmp, *args):
    """Runs headless chromium with its profile, home and caches under tmp,
    killing its process group if it overruns; returns (stdout, stderr)."""
    env = dict(os.environ, HOME=str(tmp / "home"),
               XDG_CONFIG_HOME=str(tmp / "home" / ".config"),
               XDG_CACHE_HOME=str(tmp / "home" / ".cache"))
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--user-data-dir=%s" % (tmp / "profile")]
    p = subprocess.Popen(cmd + list(args), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=BROWSER_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        pytest.fail("chromium %s ran over %d s:\n%s" % (
            args[0], BROWSER_TIMEOUT, err.decode(errors="replace")[-3000:]))
    try:                # helpers that outlive the browser, if any
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    err = err.decode(errors="replace")
    assert p.returncode == 0, "chromium exited %d:\n%s" % (
        p.returncode, err[-3000:])
    # chromium exits 0 on a page it could not load.
    assert "Page load failed" not in err, err[-3000:]
    return out.decode(errors="replace"), err


@pytest.fixture(scope="module")
def rendered():
    """The report of the known log as chromium saw it: (html, dom, png)."""
    if CHROMIUM is None:
        pytest.skip("no chromium on PATH (Debian package 'chromium', "
                    "installed by scripts/setup; or set CHROMIUM)")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("CHROMIUM=%s is not an executable file" % CHROMIUM)
    with tempfile.TemporaryDirectory(prefix="cordon-browser-") as d:
        tmp = Path(d)
        log = tmp / "blocked.log"
        ag.write_lines(log, log_lines())
        html = tmp / "report.html"
        p = subprocess.run([CORDON, "audit", "report", str(log), "--html",
                            str(html)], capture_output=True, text=True,
                           timeout=30)
        assert p.returncode == 0, p.stderr
        url = html.as_uri()
        dom, _ = chromium(tmp, "--dump-dom", url)
        png = tmp / "report.png"
        _, err = chromium(tmp, "--screenshot=%s" % png,
                          "--window-size=%d,%d" % WINDOW, url)
        assert png.is_file(), "no screenshot:\n" + err[-3000:]
        yield html.read_text(), dom, png.read_bytes()


@pytest.fixture(scope="module")
def charts(rendered):
    """{section title: its <svg>} from the rendered DOM."""
    root = parse_dom(rendered[1])
    out = {}
    for sec in root.find_all("section"):
        h2 = sec.find_all("h2")
        svgs = sec.find_all("svg")
        assert h2, "a section without a title"
        assert len(svgs) <= 1
        if svgs:
            out[h2[0].all_text()] = svgs[0]
    return out


def test_page_rendered(rendered):
    root = parse_dom(rendered[1])
    assert [n.all_text() for n in root.find_all("h1")] == [
        "cordon audit report"]
    head = root.find_all("head")[0]
    assert [n.all_text() for n in head.find_all("title")] == [
        "cordon audit report"]
    titles = [n.all_text() for n in root.find_all("h2")]
    assert titles == list(EXPECTED) + ["Policies", "Gaps"]
    head = root.find_all("table")[0].all_text()
    assert "%d attempts, %d names, %d clients" % (
        len(RECS), len(tally("qname", str.lower)), len(tally("client"))) \
        in head


def test_every_chart_present(charts):
    assert list(charts) == list(EXPECTED)
    for title, svg in charts.items():
        assert svg.attrs.get("role") == "img"
        assert svg.attrs.get("aria-label") == title
        assert float(svg.attrs["width"]) > 0
        assert float(svg.attrs["height"]) > 0


def test_day_columns(charts):
    svg = charts["Blocked per day"]
    groups = svg.find_all("g")
    # One column per day of the period, the 6th (no blocks) included.
    assert len(groups) == len(ALL_DAYS) == DAYS[-1] - DAYS[0] + 1
    assert ("2026-11-06", 0) in ALL_DAYS
    top = max(PER_DAY)
    xs = []
    for g, (day, count) in zip(groups, ALL_DAYS):
        assert g.find_all("title")[0].all_text() == "%s: %d" % (day, count)
        rect, = g.find_all("rect")
        assert rect.attrs["class"] == "col"
        assert float(rect.attrs["height"]) == pytest.approx(
            COL_H * count / top, abs=0.06)
        xs.append(float(rect.attrs["x"]))
        # The count is on the page, not only in the tooltip.
        label, = g.find_all("text")
        assert label.attrs["class"] == "count"
        assert label.all_text() == str(count)
    # Even in time: the same step from each day to the next.
    steps = {b - a for a, b in zip(xs, xs[1:])}
    assert len(steps) == 1 and steps.pop() > 0, xs
    # Seven days: a date under every column.
    assert [t.all_text() for t in svg.find_all("text")
            if t.attrs.get("class") == "date"] == [d for d, _ in ALL_DAYS]


@pytest.mark.parametrize("title", [t for t in EXPECTED
                                   if t != "Blocked per day"])
def test_bar_chart(charts, title):
    svg = charts[title]
    rows = EXPECTED[title]
    rects = svg.find_all("rect")
    assert len(rects) == len(rows)
    assert all(r.attrs["class"] == "bar" for r in rects)
    texts = [t.all_text() for t in svg.find_all("text")]
    # label, bar, count: one row after another.
    assert len(texts) == 2 * len(rows)
    for label, (key, _) in zip(texts[0::2], rows):
        check_label(label, key)
    assert texts[1::2] == [str(c) for _, c in rows]
    # The full key and its count in each row's tooltip.
    assert [g.find_all("title")[0].all_text() for g in svg.find_all("g")] \
        == ["%s: %d" % kv for kv in rows]
    top = max(c for _, c in rows)
    widths = [float(r.attrs["width"]) for r in rects]
    assert widths == pytest.approx([BAR_W * c / top for _, c in rows],
                                   abs=0.06)


def chart_labels(svg):
    return [t.all_text() for t in svg.find_all("text")][0::2]


def test_top_names_cut_and_escaped(charts, rendered):
    html, dom, _ = rendered
    labels = chart_labels(charts["Top 10 names"])
    assert HOSTILE in labels    # shown as text, not made an element
    long_label, = [l for l in labels if l.startswith(LONG[:20])]
    assert long_label.endswith("\u2026")
    assert len(long_label) > 36, "cut shorter than the room: " + long_label
    assert "www.binance.com" in labels and "WWW.Binance.COM" not in labels
    assert "&lt;img src=&quot;http://127.0.0.1:9/x.png&quot;&gt;" in html
    # Names past the top ten are in the table, counted as "(others)".
    assert "n05.example" not in dom
    assert "(others)" in dom


def test_utf8_label_cut_between_characters(charts, rendered):
    label, = [l for l in chart_labels(charts["Top 10 names"])
              if l.startswith("\u00e9")]
    assert label.endswith("\u2026") and UTF8.startswith(label[:-1])
    assert "\u65e5" in label     # cut among the three-byte characters
    # The page is valid UTF-8 (read_text() would have failed), and the
    # full name is in the table and the tooltip.
    assert rendered[0].count(UTF8) == 2
    assert "\ufffd" not in rendered[0]


def test_wide_label_cut(charts):
    label, = [l for l in chart_labels(charts["By list"])
              if l.startswith("W")]
    assert label.endswith("\u2026") and len(label) < len(WIDE)


# Where chromium put every chart label: the page plus a script that writes
# each <text>'s box, relative to its <svg>, into the DOM it dumps.
MEASURE = """<script>
var out = [];
document.querySelectorAll("svg").forEach(function (svg) {
  var s = svg.getBoundingClientRect();
  svg.querySelectorAll("text").forEach(function (t) {
    var b = t.getBoundingClientRect();
    out.push({chart: svg.getAttribute("aria-label"),
              cls: t.getAttribute("class") || "", text: t.textContent,
              left: b.left - s.left, right: b.right - s.left,
              top: b.top - s.top, bottom: b.bottom - s.top,
              width: s.width, height: s.height});
  });
});
var pre = document.createElement("pre");
pre.id = "measure";
pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
</script>"""


@pytest.fixture(scope="module")
def measured(rendered):
    """[{chart, cls, text, left, right, top, bottom, width, height}] for
    every <text> of every chart, as chromium laid it out."""
    with tempfile.TemporaryDirectory(prefix="cordon-measure-") as d:
        tmp = Path(d)
        page = tmp / "measure.html"
        page.write_text(rendered[0].replace("</body>", MEASURE + "</body>"))
        dom, _ = chromium(tmp, "--window-size=%d,%d" % WINDOW,
                          "--dump-dom", page.as_uri())
    pre = [n for n in parse_dom(dom).find_all("pre")
           if n.attrs.get("id") == "measure"]
    assert pre, "the measuring script did not run"
    return json.loads(pre[0].all_text())


def test_labels_inside_charts(measured):
    assert {m["chart"] for m in measured} == set(EXPECTED)
    for m in measured:
        assert m["right"] > m["left"], m
        assert m["left"] >= 0 and m["right"] <= m["width"] + 0.5, m
        assert m["top"] >= 0 and m["bottom"] <= m["height"] + 0.5, m
    wide, = [m for m in measured if m["text"].startswith("WWW")]
    assert wide["left"] >= 0 and wide["right"] <= wide["width"], wide


def overlap(a, b):
    return (a["left"] < b["right"] and b["left"] < a["right"] and
            a["top"] < b["bottom"] and b["top"] < a["bottom"])


def test_day_labels_apart(measured):
    days = [m for m in measured if m["chart"] == "Blocked per day"]
    dates = [m for m in days if m["cls"] == "date"]
    counts = [m for m in days if m["cls"] == "count"]
    assert [m["text"] for m in dates] == [d for d, _ in ALL_DAYS]
    assert [m["text"] for m in counts] == [str(c) for _, c in ALL_DAYS]
    for group in (dates, counts):
        for a, b in zip(group, group[1:]):
            assert not overlap(a, b), (a, b)
    for c in counts:
        assert not any(overlap(c, d) for d in dates), c


URL_ATTRS = {"src", "href", "xlink:href", "srcset", "data", "action",
             "formaction", "poster", "background", "ping", "manifest",
             "codebase", "cite", "longdesc", "usemap", "imagesrcset"}
LOADING_TAGS = {"script", "img", "link", "iframe", "frame", "object",
                "embed", "video", "audio", "source", "track", "image",
                "use", "foreignobject", "base", "form", "input", "picture",
                "portal", "feimage"}


def test_no_external_resources(rendered):
    root = parse_dom(rendered[1])
    for n in root.walk():
        assert n.tag not in LOADING_TAGS, (n.tag, n.attrs)
        if n.tag == "meta":
            assert "http-equiv" not in n.attrs, n.attrs
        for name, value in n.attrs.items():
            assert name not in URL_ATTRS, (n.tag, name, value)
            assert "url(" not in (value or "").lower(), (n.tag, name)
        if n.tag == "style":
            css = n.all_text().lower()
            assert "url(" not in css and "@import" not in css
            assert "@font-face" not in css


def test_screenshot_shows_charts(rendered):
    w, h, bpp, rows = png_pixels(rendered[2])
    assert (w, h) == WINDOW
    colours = set()
    bar = col = 0
    for y in range(0, h, 2):
        row = rows[y]
        for x in range(0, w * bpp, bpp):
            c = row[x:x + 3]
            colours.add(c)
        bar += row.count(bytes(BAR_RGB))
        col += row.count(bytes(COL_RGB))
    # A blank page is one colour; text alone gives grey anti-aliasing.
    assert len(colours) > 50, len(colours)
    assert bar > 5000, "hardly any bar colour: %d" % bar
    assert col > 1000, "hardly any column colour: %d" % col

    # Find a column of pixels through the bars' left ends: it crosses one
    # red run per bar on screen, at least every bar of the charts that
    # fit in the first 2000 px (names, clients, lists).
    def red(x, y):
        return rgb_at(rows, bpp, x, y) == BAR_RGB
    xs = [x for x in range(w) if red(x, h // 3)] or [
        x for y in range(0, h, 11) for x in range(w) if red(x, y)]
    assert xs, "no bar on screen"
    x0 = min(xs) + 2
    bars = runs(red(x0, y) for y in range(h))
    assert bars >= sum(len(EXPECTED[t]) for t in (
        "Top 10 names", "Top 10 clients", "By list")), bars

    # The day columns: one blue run per day with blocks along a line near
    # their base (the 6th has an empty column).
    blue_ys = [y for y in range(h) if COL_RGB in (
        rgb_at(rows, bpp, x, y) for x in range(0, w, 4))]
    assert blue_ys, "no day column on screen"
    base = max(blue_ys) - 1
    assert runs(rgb_at(rows, bpp, x, base) == COL_RGB
                for x in range(w)) == len(DAYS)
