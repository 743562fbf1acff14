"""`cordond -t` and start-up checks of cordon.conf, the manifest and the
lists: every mistake reported as "cordon: FILE:LINE: reason", exit 0/1
(PRODUCT.md, "Programs", "Configuration", "Sources manifest")."""

import re
import socket
import subprocess
from pathlib import Path

import pytest

from conftest import CORDON, CORDOND, build_conf, free_port, require_program

UPSTREAM = "127.0.0.1:5300"        # -t does not contact it
DIAG = re.compile(r"^cordon: (?P<file>\S+?):(?P<line>\d+): (?P<msg>.+)$")


def run(args, timeout=10):
    require_program(args[0])
    return subprocess.run(args, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def check_conf(conf):
    return run([CORDOND, "-t", "-c", str(conf)])


def diagnostics(stderr, basename):
    """{line: message} of the "cordon: FILE:LINE: msg" lines about a file
    called basename."""
    out = {}
    for ln in stderr.splitlines():
        m = DIAG.match(ln)
        if m and Path(m.group("file")).name == basename:
            out.setdefault(int(m.group("line")), []).append(m.group("msg"))
    return out


def good_conf(tmp_path, **kw):
    return build_conf(tmp_path, free_port(), UPSTREAM, **kw)


def edit_conf(tmp_path, removals, additions, name="bad.conf"):
    """A conf built with removals ({section: [keys]}) and additions: a list
    of (section, line) inserted right after that section's header (a new
    section is appended at the end).  Returns (path, {line text: lineno})."""
    overrides = {s: {k: None for k in keys} for s, keys in removals.items()}
    path = build_conf(tmp_path, free_port(), UPSTREAM, overrides,
                      name=name)
    lines = path.read_text().splitlines()
    for section, text in additions:
        head = "[%s]" % section
        if head in lines:
            lines.insert(lines.index(head) + 1, text)
        else:
            lines += ["", head, text]
    path.write_text("\n".join(lines) + "\n")
    numbers = {ln: i + 1 for i, ln in enumerate(lines)}
    return path, numbers


def test_good_config_checks_clean(tmp_path):
    conf = good_conf(tmp_path)
    res = check_conf(conf)
    assert res.returncode == 0, res.stderr
    assert not [ln for ln in res.stderr.splitlines() if DIAG.match(ln)]


BAD_CASES = {
    # name: (removals, (section, line), word the message must name)
    "unknown_key": ({}, ("server", "bogus_key = 1"), "bogus_key"),
    "bad_duration": ({"upstream": ["timeout"]},
                     ("upstream", "timeout = 2x"), "2x"),
    "bad_action": ({"policy": ["action"]},
                   ("policy", "action = explode"), "explode"),
    "bad_listen_address": ({"server": ["listen"]},
                           ("server", "listen = 127.0.0.256:53"),
                           "127.0.0.256"),
    "bad_upstream_address": ({"upstream": ["servers"]},
                             ("upstream", "servers = 127.0.0.1:99999"),
                             "99999"),
    "bad_allow_cidr": ({"server": ["allow"]},
                       ("server", "allow = 10.0.0.0/33"), "10.0.0.0/33"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_config_mistake_reported_with_line(tmp_path, case):
    removals, addition, word = BAD_CASES[case]
    conf, numbers = edit_conf(tmp_path, removals, [addition])
    res = check_conf(conf)
    assert res.returncode == 1, res.stderr
    found = diagnostics(res.stderr, conf.name)
    line = numbers[addition[1]]
    assert line in found, "no %s:%d: line in:\n%s" % (conf.name, line,
                                                      res.stderr)
    assert any(word in msg for msg in found[line]), found[line]


def test_unknown_section_reported_with_line(tmp_path):
    conf, numbers = edit_conf(tmp_path, {}, [("nosuchsection",
                                              "colour = red")])
    res = check_conf(conf)
    assert res.returncode == 1, res.stderr
    found = diagnostics(res.stderr, conf.name)
    lines = {numbers["[nosuchsection]"], numbers["colour = red"]}
    assert lines & set(found), res.stderr
    assert any("nosuchsection" in m for ln in lines & set(found)
               for m in found[ln]), found


def test_every_config_mistake_reported_in_one_run(tmp_path):
    removals = {}
    additions = []
    for rem, addition, _ in BAD_CASES.values():
        for section, keys in rem.items():
            removals.setdefault(section, []).extend(keys)
        additions.append(addition)
    additions.append(("nosuchsection", "colour = red"))
    conf, numbers = edit_conf(tmp_path, removals, additions)
    res = check_conf(conf)
    assert res.returncode == 1
    found = diagnostics(res.stderr, conf.name)
    for _, (_, text), _ in BAD_CASES.values():
        assert numbers[text] in found, "%r (line %d) not reported:\n%s" % (
            text, numbers[text], res.stderr)
    assert {numbers["[nosuchsection]"], numbers["colour = red"]} & set(
        found), res.stderr


def test_daemon_refuses_to_start_on_bad_config(tmp_path):
    conf, numbers = edit_conf(tmp_path, {"policy": ["action"]},
                              [("policy", "action = explode")])
    res = run([CORDOND, "-f", "-c", str(conf)])
    assert res.returncode == 1
    assert numbers["action = explode"] in diagnostics(res.stderr, conf.name)


BAD_LIST = (
    "# a list with mistakes\n"          # 1
    "good-one.example\n"                # 2
    "bad..name.example\n"               # 3
    + "a" * 64 + ".example\n"           # 4
    "good-two.example\n"                # 5
    "exa$mple.com\n"                    # 6
    "1.2.3.4\n"                         # 7
    "\n"                                # 8
    "good-three.example\n"              # 9
)
BAD_LIST_LINES = {3, 4, 6, 7}


def test_bad_list_lines_reported_and_check_fails(tmp_path):
    conf = good_conf(tmp_path, list_files={"exchanges.domains": BAD_LIST})
    res = check_conf(conf)
    assert res.returncode == 1, res.stderr
    found = diagnostics(res.stderr, "exchanges.domains")
    assert set(found) == BAD_LIST_LINES, res.stderr


def test_daemon_skips_bad_list_lines_and_blocks_the_rest(start_cordond,
                                                         upstream):
    d = start_cordond(list_files={"exchanges.domains": BAD_LIST})
    for qname in ("good-one.example", "good-two.example",
                  "www.good-three.example"):
        resp = d.udp(qname, "A")
        assert resp.rcode() == 3, qname
    assert upstream.count("good-two.example") == 0
    # the daemon reports the skipped lines too
    err = Path(d.errfile).read_text()
    assert set(diagnostics(err, "exchanges.domains")) == BAD_LIST_LINES, err


def test_bad_manifest_key_reported_with_line(tmp_path):
    from helpers import MANIFEST
    text = MANIFEST.replace("category = ico\n",
                            "category = ico\ncolour = red\n")
    line = text.splitlines().index("colour = red") + 1
    conf = good_conf(tmp_path, list_files={"sources.ini": text})
    res = check_conf(conf)
    assert res.returncode == 1
    assert line in diagnostics(res.stderr, "sources.ini"), res.stderr


@pytest.mark.parametrize("how", ["missing", "directory"])
def test_unreadable_list_fails_check_and_start(tmp_path, how):
    conf = good_conf(tmp_path, list_files={"ico.domains": None})
    if how == "directory":
        (tmp_path / "lists" / "ico.domains").mkdir()
    res = check_conf(conf)
    assert res.returncode == 1, res.stderr
    assert "ico.domains" in res.stderr
    res = run([CORDOND, "-f", "-c", str(conf)])
    assert res.returncode == 1, res.stderr
    assert "ico.domains" in res.stderr


def test_usage_error_exits_2():
    res = run([CORDOND, "--no-such-option"])
    assert res.returncode == 2
    assert res.stderr


def test_version_exits_0():
    res = run([CORDOND, "-V"])
    assert res.returncode == 0
    assert (res.stdout + res.stderr).strip()


def test_cordon_check_matches_cordond_t(tmp_path):
    require_program(CORDON)
    good = good_conf(tmp_path)
    res = run([CORDON, "check", str(good)])
    assert res.returncode == 0, res.stderr
    conf, numbers = edit_conf(tmp_path, {"upstream": ["timeout"]},
                              [("upstream", "timeout = 2x")])
    res = run([CORDON, "check", str(conf)])
    assert res.returncode == 1
    assert numbers["timeout = 2x"] in diagnostics(res.stderr, conf.name)


def test_pidfile_holds_the_daemon_pid(start_cordond, tmp_path):
    pidfile = tmp_path / "cordond.pid"
    d = start_cordond({"server": {"pidfile": str(pidfile)}})
    assert pidfile.read_text().strip() == str(d.proc.pid)


def test_check_does_not_bind_while_daemon_runs(start_cordond):
    d = start_cordond()
    res = check_conf(d.conf)
    assert res.returncode == 0, res.stderr
    assert d.alive()


@pytest.mark.parametrize("kind", [socket.SOCK_DGRAM, socket.SOCK_STREAM])
def test_start_fails_when_port_taken(tmp_path, kind):
    with socket.socket(socket.AF_INET, kind) as taken:
        taken.bind(("127.0.0.1", 0))
        if kind == socket.SOCK_STREAM:
            taken.listen(1)
        port = taken.getsockname()[1]
        conf = build_conf(tmp_path, port, UPSTREAM)
        res = run([CORDOND, "-f", "-c", str(conf)])
    assert res.returncode == 1, res.stderr
    assert str(port) in res.stderr


def test_user_drops_privileges(start_cordond):
    import os
    import pwd
    if os.geteuid() != 0:
        pytest.skip("needs root to drop privileges")
    nobody = pwd.getpwnam("nobody")
    d = start_cordond({"server": {"user": "nobody"}})
    status = Path("/proc/%d/status" % d.proc.pid).read_text()
    uids = [ln.split()[1:] for ln in status.splitlines()
            if ln.startswith("Uid:")][0]
    assert uids == [str(nobody.pw_uid)] * 4, uids
    assert d.udp("www.binance.com", "A").rcode() == 3
    assert d.udp("user.test", "A").rcode() == 0
