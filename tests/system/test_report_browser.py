"""`cordon audit report --html` loaded in a real browser: Debian's chromium,
headless.  A known log (auditgen.py) is reported once; chromium dumps the
DOM it rendered, and every chart must be there with one bar per row of the
known counts, its labels (escaped, cut at 48 characters) and nothing that
loads from elsewhere; then chromium takes a screenshot, which must show the
bars and columns in the report's own colours.

CHROMIUM overrides the browser (default: `chromium` on PATH); without one
the tests are skipped (scripts/setup installs Debian's package)."""

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

# The report's geometry and colours (daemon/auditreport.c).
BAR_W, LABEL_MAX, TOP_N = 420, 48, 10
BAR_RGB = (0xb0, 0x3a, 0x2e)    # .bar
COL_RGB = (0x2e, 0x6d, 0xb0)    # .col

P1 = "5f3c1a0b2d4e6f70"
HOSTILE = '<img src="http://127.0.0.1:9/x.png">.example'
LONG = ("a-very-long-subdomain-label-for-layout-checks.tracking."
        "exchange-mirror.example")
# (qname, how often); 13 names, so the top ten leaves three out.
NAMES = [("www.binance.com", 5), ("WWW.Binance.COM", 1),
         ("api.binance.com", 4), ("ico-launch.example", 3),
         ("cdn.otc-desk.example", 2), (HOSTILE, 1), (LONG, 1)] + [
    ("n%02d.example" % i, 1) for i in range(1, 8)]
# November days and how many attempts on each (24 in all); no 6th.
DAYS = [2, 3, 4, 5, 7, 8]
PER_DAY = [7, 5, 1, 3, 6, 2]
DAY_OF = [d for d, n in zip(DAYS, PER_DAY) for _ in range(n)]
CLIENTS = ["192.0.2.7", "192.0.2.7", "198.51.100.20", "2001:db8::5",
           "10.1.2.3"]
LISTS = ["exchanges", "exchanges", "ico", "otc"]
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


def chart_label(key):
    return key[:LABEL_MAX] + "\u2026" if len(key) > LABEL_MAX else key


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
    days = EXPECTED["Blocked per day"]
    rects = svg.find_all("rect")
    assert len(rects) == len(days) == len(DAYS)
    top = max(c for _, c in days)
    for rect, (day, count) in zip(rects, days):
        assert rect.attrs["class"] == "col"
        assert rect.find_all("title")[0].all_text() == "%s: %d" % (
            day, count)
        assert float(rect.attrs["height"]) == pytest.approx(
            160.0 * count / top, abs=0.06)
    # A date under every fourth column (24 px steps, 80 px per label).
    assert [t.all_text() for t in svg.find_all("text")] == [
        d for i, (d, _) in enumerate(days) if i % 4 == 0]


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
    assert texts[0::2] == [chart_label(k) for k, _ in rows]
    assert texts[1::2] == [str(c) for _, c in rows]
    top = max(c for _, c in rows)
    widths = [float(r.attrs["width"]) for r in rects]
    assert widths == pytest.approx([BAR_W * c / top for _, c in rows],
                                   abs=0.06)


def test_top_names_cut_and_escaped(charts, rendered):
    html, dom, _ = rendered
    labels = [t.all_text() for t in charts["Top 10 names"].find_all("text")]
    assert HOSTILE in labels    # shown as text, not made an element
    assert LONG[:LABEL_MAX] + "\u2026" in labels
    assert "www.binance.com" in labels and "WWW.Binance.COM" not in labels
    assert "&lt;img src=&quot;http://127.0.0.1:9/x.png&quot;&gt;" in html
    # Names past the top ten are in the table, counted as "(others)".
    assert "n07.example" not in dom
    assert "(others)" in dom


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

    # The day columns: one blue run per day along a line near their base.
    blue_ys = [y for y in range(h) if COL_RGB in (
        rgb_at(rows, bpp, x, y) for x in range(0, w, 4))]
    assert blue_ys, "no day column on screen"
    base = max(blue_ys) - 1
    assert runs(rgb_at(rows, bpp, x, base) == COL_RGB
                for x in range(w)) == len(DAYS)
