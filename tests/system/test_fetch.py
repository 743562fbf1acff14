"""`url =` sources: `cordon compile` downloads them (daemon/tool/fetch.c).

PRODUCT.md: a source gives `file = ...` or `url = https://...`; `cordon
compile MANIFEST -o DIR` fetches url sources into DIR/cache and reports per
source in report.json "fetch": {"status", "url", "http_code", "error"}.
Each test starts httpserver.py (a real HTTP server on 127.0.0.1 with ETag,
Last-Modified and 304 answers) and runs the real `cordon compile`.
"""

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from conftest import CORDON, PYTHON, READY_TIMEOUT, free_port, \
    require_program, stop_pid, tail, _register

HTTPD = str(Path(__file__).resolve().parent / "httpserver.py")
LIST = "phish-one.example\nphish-two.example\n"
DIAG = re.compile(r"^cordon: (?P<file>\S+?):(?P<line>\d+): (?P<msg>.+)$")


class HttpServer:
    """httpserver.py as a subprocess on a port it picks itself."""

    label = "httpserver"

    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.root = self.workdir / "www"
        self.root.mkdir(exist_ok=True)
        self.log = self.workdir / "http-requests.log"
        self.fail_flag = self.workdir / "http-fail"
        self.errfile = self.workdir / "httpserver.stderr"
        self.proc = None
        self.port = None

    def start(self):
        with open(self.errfile, "wb") as err:
            self.proc = subprocess.Popen(
                [PYTHON, HTTPD, "--port", "0", "--dir", str(self.root),
                 "--log", str(self.log), "--fail-flag", str(self.fail_flag),
                 "--redirect", "/moved.txt=/list.txt",
                 "--redirect", "/loop-a=/loop-b",
                 "--redirect", "/loop-b=/loop-a",
                 "--redirect", "/to-file=file:///etc/hosts"],
                stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            # The stub prints its one line only once it listens.
            line = self.proc.stdout.readline().decode()
            if line.startswith("ready "):
                self.port = int(line.split()[1])
                return self
            if self.proc.poll() is not None:
                break
        self.stop()
        pytest.fail("httpserver did not start:\n" + tail(self.errfile),
                    pytrace=False)

    def url(self, path="/list.txt"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            stop_pid(self.proc)
        if self.proc is not None:
            self.proc.stdout.close()

    def requests(self):
        try:
            text = self.log.read_text()
        except FileNotFoundError:
            return []
        return [json.loads(ln) for ln in text.splitlines() if ln]

    def output(self):
        return tail(self.errfile)


@pytest.fixture
def httpd(request, tmp_path):
    server = HttpServer(tmp_path)
    _register(request, server)
    (server.root / "list.txt").write_text(LIST)
    server.start()
    yield server
    server.stop()


def write_manifest(path, url, name="remote", fmt="domains"):
    """A manifest with one local and one url source; returns the line
    numbers (section header, url key) of the url source."""
    local = path.parent / "local.domains"
    local.write_text("local-only.example\n")
    path.write_text(
        "[source local]\n"          # 1
        "file = local.domains\n"    # 2
        "format = domains\n"        # 3
        "category = exchange\n"     # 4
        "\n"                        # 5
        "[source %s]\n"             # 6
        "url = %s\n"                # 7
        "format = %s\n"             # 8
        "category = phishing\n"     # 9
        "kind = block\n" % (name, url, fmt))
    return 6, 7


def compile_(manifest, out):
    require_program(CORDON)
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    return subprocess.run([CORDON, "compile", str(manifest), "-o", str(out)],
                          capture_output=True, text=True, timeout=60,
                          env=env)


def source_report(out, name="remote"):
    report = json.loads((Path(out) / "report.json").read_text())
    for src in report["sources"]:
        if src["name"] == name:
            return report, src
    raise AssertionError("no source %r in report.json" % name)


def ok(res):
    assert res.returncode == 0, "exit %d\nstdout:\n%s\nstderr:\n%s" % (
        res.returncode, res.stdout, res.stderr)


def test_first_build_fetches(httpd, tmp_path):
    manifest = tmp_path / "sources.ini"
    write_manifest(manifest, httpd.url())
    out = tmp_path / "out"
    ok(compile_(manifest, out))
    _, src = source_report(out)
    assert src["fetch"]["status"] == "fetched"
    assert src["fetch"]["url"] == httpd.url()
    assert src["fetch"]["http_code"] == 200
    assert src["fetch"]["error"] is None
    assert src["kept"] == 2
    assert (out / "cache" / "remote.data").read_text() == LIST
    assert [r["status"] for r in httpd.requests()] == [200]


def test_second_build_is_conditional_and_not_modified(httpd, tmp_path):
    manifest = tmp_path / "sources.ini"
    write_manifest(manifest, httpd.url())
    out = tmp_path / "out"
    ok(compile_(manifest, out))
    ok(compile_(manifest, out))
    _, src = source_report(out)
    assert src["fetch"]["status"] == "not_modified"
    assert src["fetch"]["http_code"] == 304
    assert src["kept"] == 2, "the kept copy is parsed"
    first, second = httpd.requests()
    assert "if-none-match" not in first["headers"]
    assert second["headers"]["if-none-match"].startswith('"')
    assert "if-modified-since" in second["headers"]
    assert second["status"] == 304


def test_changed_list_is_fetched_again(httpd, tmp_path):
    manifest = tmp_path / "sources.ini"
    write_manifest(manifest, httpd.url())
    out = tmp_path / "out"
    ok(compile_(manifest, out))
    (httpd.root / "list.txt").write_text(LIST + "phish-three.example\n")
    ok(compile_(manifest, out))
    report, src = source_report(out)
    assert src["fetch"]["status"] == "fetched"
    assert src["kept"] == 3
    assert "phish-three.example" in report["changes"]["added"]
    assert [r["status"] for r in httpd.requests()] == [200, 200]


def test_server_error_uses_last_good_copy(httpd, tmp_path):
    manifest = tmp_path / "sources.ini"
    write_manifest(manifest, httpd.url())
    out = tmp_path / "out"
    ok(compile_(manifest, out))
    httpd.fail_flag.touch()
    res = compile_(manifest, out)
    ok(res)
    _, src = source_report(out)
    assert src["fetch"]["status"] == "failed_cached"
    assert src["fetch"]["http_code"] == 500
    assert "500" in src["fetch"]["error"]
    assert src["kept"] == 2
    assert (out / "cache" / "remote.data").read_text() == LIST, \
        "a failed download never replaces the last good copy"
    assert "remote" in res.stderr, "the failure is reported"


def test_server_down_without_copy_fails(tmp_path):
    manifest = tmp_path / "sources.ini"
    header, url_line = write_manifest(
        manifest, "http://127.0.0.1:%d/list.txt" % free_port())
    out = tmp_path / "out"
    res = compile_(manifest, out)
    assert res.returncode == 1, res.stderr
    diags = [m for m in map(DIAG.match, res.stderr.splitlines()) if m]
    hits = [m for m in diags if m["file"] == str(manifest) and
            int(m["line"]) in (header, url_line) and "remote" in m["msg"]]
    assert hits, "no 'cordon: MANIFEST:LINE: ...' naming the source:\n" + \
        res.stderr
    assert not (out / "policy.cpol").exists()


def test_redirect_is_followed(httpd, tmp_path):
    manifest = tmp_path / "sources.ini"
    write_manifest(manifest, httpd.url("/moved.txt"))
    out = tmp_path / "out"
    ok(compile_(manifest, out))
    _, src = source_report(out)
    assert src["fetch"]["status"] == "fetched"
    assert src["kept"] == 2
    assert [r["path"] for r in httpd.requests()] == ["/moved.txt",
                                                     "/list.txt"]


@pytest.mark.parametrize("path, reason", [
    ("/missing.txt", "404"),
    ("/loop-a", "redirect"),
    ("/to-file", "file"),
])
def test_failures_without_copy(httpd, tmp_path, path, reason):
    manifest = tmp_path / "sources.ini"
    write_manifest(manifest, httpd.url(path))
    out = tmp_path / "out"
    res = compile_(manifest, out)
    assert res.returncode == 1, res.stderr
    assert reason in res.stderr.lower(), res.stderr
    assert not (out / "cache" / "remote.data").exists()
    if path == "/loop-a":
        assert len(httpd.requests()) == 6, "at most 5 redirects followed"
