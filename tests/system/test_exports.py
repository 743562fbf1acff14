"""`cordon compile --export all`: every export loads in the tool it is for.

One manifest with block and allow names and block and allow ranges
(documentation ranges only) is compiled once; each test loads one file in
its real tool (named-checkzone, unbound-checkconf, dnsmasq --test, nft,
ipset) and, where the tool can serve DNS, starts it on a loopback port in
front of the stub upstream and checks that it blocks what cordon blocks
and lets through what cordon's allow entries let through.  nft and ipset
load into a network namespace made for the test, so the host's firewall
is never touched.  A test is skipped only when its tool is not installed
or the kernel refuses the namespace or the load for lack of privilege.
"""

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode
import pytest

from conftest import (CORDON, READY_TIMEOUT, Upstream, free_port,
                      require_program, stop_pid, tail)

BLOCK_DOMAINS = """\
# children of blocked names are dropped, a block under an allow stays
binance.com
www.binance.com
example.com
bad.safe.example.com
x.bad.safe.example.com
okx.com
deep.www.okx.com
_tracker.example.org
"""
ALLOW_DOMAINS = """\
safe.example.com
y.safe.example.com
unrelated.example.net
"""
BLOCK_CIDR = """\
192.0.2.0/24
198.51.100.0-198.51.100.9
198.51.100.10/31
203.0.113.7
2001:db8::/32
"""
ALLOW_CIDR = """\
192.0.2.128/26
2001:db8::/33
"""
MANIFEST = """\
[source exchanges]
file = block.domains
format = domains
category = exchange
kind = block

[source exceptions]
file = allow.domains
format = domains
kind = allow

[source ranges]
file = block.cidr
format = cidr
kind = block

[source range-exceptions]
file = allow.cidr
format = cidr
kind = allow
"""

FILES = {
    "rpz": "policy.rpz", "hosts": "hosts", "dnsmasq": "dnsmasq.conf",
    "unbound": "unbound.conf", "nft": "cordon.nft",
    "ipset": "ipset.restore", "domains": "domains.txt", "cidr": "cidr.txt",
}
HEADER = re.compile(r"^[#;] cordon export, format (\S+): (\d+) entries\n"
                    r"[#;] policy ([0-9a-f]{64}); ")

TOP_BLOCKED = ["binance.com", "example.com", "bad.safe.example.com",
               "okx.com", "_tracker.example.org"]
# what the policy makes of the ranges: allow taken out, neighbours merged
V4_PREFIXES = ["192.0.2.0/25", "192.0.2.192/26", "198.51.100.0/29",
               "198.51.100.8/30", "203.0.113.7/32"]
V6_PREFIXES = ["2001:db8:8000::/33"]


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    require_program(CORDON)
    work = tmp_path_factory.mktemp("exports")
    for name, text in (("block.domains", BLOCK_DOMAINS),
                       ("allow.domains", ALLOW_DOMAINS),
                       ("block.cidr", BLOCK_CIDR),
                       ("allow.cidr", ALLOW_CIDR),
                       ("sources.ini", MANIFEST)):
        (work / name).write_text(text)
    out = work / "out"
    run = subprocess.run([CORDON, "compile", str(work / "sources.ini"),
                          "-o", str(out), "--export", "all"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return out


def need(tool, package):
    path = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")
    if path is None:
        pytest.skip("%s not installed (Debian package %s)" % (tool, package))
    return path


def body_lines(path):
    return [ln for ln in Path(path).read_text().splitlines()
            if ln and not ln.startswith(("#", ";"))]


# ---- every file ----

def test_every_format_written_with_header(exports):
    ids = set()
    for fmt, name in FILES.items():
        text = (exports / name).read_text()
        m = HEADER.match(text)
        assert m, "%s: no header:\n%s" % (name, text[:200])
        assert m.group(1) == fmt
        ids.add(m.group(3))
    assert len(ids) == 1, "one policy, one id: %s" % ids
    leftovers = [p.name for p in exports.iterdir() if ".tmp" in p.name]
    assert leftovers == []


def test_domains_and_hosts_content(exports):
    assert body_lines(exports / "domains.txt") == [
        "binance.com", "example.com", "bad.safe.example.com", "okx.com",
        "_tracker.example.org"]
    hosts = body_lines(exports / "hosts")
    assert all(ln.startswith("0.0.0.0 ") for ln in hosts)
    names = [ln.split()[1] for ln in hosts]
    # hosts match exact names: every blocked name, no allowed one
    assert sorted(names) == sorted(
        ln for ln in BLOCK_DOMAINS.splitlines()
        if ln and not ln.startswith("#"))
    m = HEADER.match((exports / "hosts").read_text())
    assert int(m.group(2)) == len(names)


def test_cidr_content(exports):
    assert body_lines(exports / "cidr.txt") == V4_PREFIXES + V6_PREFIXES


# ---- servers in front of the stub upstream ----

def query(port, name, rdtype="A"):
    q = dns.message.make_query(name, rdtype)
    return dns.query.udp(q, "127.0.0.1", port=port, timeout=2.0)


def wait_serving(proc, port, errfile):
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            query(port, "ready.test")
            return
        except (dns.exception.Timeout, OSError):
            time.sleep(0.1)
    pytest.fail("server did not start:\n" + tail(errfile), pytrace=False)


@pytest.fixture
def stub(tmp_path):
    up = Upstream(tmp_path).start().wait_ready()
    yield up
    up.stop()


def serve(cmd, port, errfile):
    with open(errfile, "wb") as err:
        proc = subprocess.Popen(cmd, stdout=err, stderr=err,
                                stdin=subprocess.DEVNULL)
    try:
        wait_serving(proc, port, errfile)
    except BaseException:
        stop_pid(proc)
        raise
    return proc


def unbound_conf(path, port, upstream, extra):
    """A resolver forwarding to the stub; test. is not one of unbound's
    built-in empty zones here, so the stub answers it."""
    path.write_text(
        "server:\n"
        "\tinterface: 127.0.0.1@%d\n"
        "\tdo-daemonize: no\n\tchroot: \"\"\n\tusername: \"\"\n"
        "\tpidfile: \"\"\n\tuse-syslog: no\n\tlogfile: \"\"\n"
        "\tdirectory: \"%s\"\n"
        "\tdo-not-query-localhost: no\n\tdo-ip6: no\n"
        "\tlocal-zone: \"test.\" nodefault\n"
        "\tmodule-config: \"respip validator iterator\"\n"
        "%s"
        "forward-zone:\n\tname: \".\"\n\tforward-addr: %s@%d\n"
        % (port, path.parent, extra, upstream.address, upstream.port))
    return path


def checkconf(conf):
    tool = need("unbound-checkconf", "unbound")
    run = subprocess.run([tool, str(conf)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "no errors" in run.stdout


def rcode(resp):
    return dns.rcode.to_text(resp.rcode())


# names and what a resolver in front of the stub must answer: blocked
# names NXDOMAIN, allowed names the stub's answer
QNAME_CASES = [
    ("binance.com", "NXDOMAIN"),
    ("www.binance.com", "NXDOMAIN"),
    ("a.b.example.com", "NXDOMAIN"),
    ("a-198-51-100-200.safe.example.com", "NOERROR"),
    ("bad.safe.example.com", "NXDOMAIN"),
    ("z.bad.safe.example.com", "NXDOMAIN"),
    ("a-198-51-100-201.unrelated.example.net", "NOERROR"),
    ("a-198-51-100-202.example.net", "NOERROR"),
]
# answers pointing into the ranges (the stub answers what the name says)
IP_CASES = [
    ("a-192-0-2-5.ip.test", "A", "NXDOMAIN"),
    ("a-192-0-2-130.ip.test", "A", "NOERROR"),
    ("a-192-0-2-200.ip.test", "A", "NXDOMAIN"),
    ("a-198-51-100-11.ip.test", "A", "NXDOMAIN"),
    ("a-198-51-100-12.ip.test", "A", "NOERROR"),
    ("aaaa-2001-db8-8000--1.ip.test", "AAAA", "NXDOMAIN"),
    ("aaaa-2001-db8--1.ip.test", "AAAA", "NOERROR"),
]


def check_answers(port, cases):
    for case in cases:
        name, want = case[0], case[-1]
        rdtype = case[1] if len(case) == 3 else "A"
        resp = query(port, name, rdtype)
        assert rcode(resp) == want, "%s %s" % (name, rdtype)
        if want == "NOERROR":
            assert resp.answer, "%s: no answer" % name


# ---- rpz ----

def test_rpz_named_checkzone(exports):
    tool = need("named-checkzone", "bind9-utils")
    run = subprocess.run([tool, "-k", "fail", "-n", "fail", "rpz.cordon",
                          str(exports / "policy.rpz")],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "OK" in run.stdout


def test_rpz_in_unbound(exports, stub, tmp_path):
    rpz = ("rpz:\n\tname: \"rpz.cordon.\"\n\tzonefile: \"%s\"\n"
           % (exports / "policy.rpz"))
    port = free_port()
    conf = unbound_conf(tmp_path / "unbound.conf", port, stub, "")
    conf.write_text(conf.read_text() + rpz)
    checkconf(conf)
    proc = serve([need("unbound", "unbound"), "-d", "-c", str(conf)],
                 port, tmp_path / "unbound.log")
    try:
        check_answers(port, QNAME_CASES)
        check_answers(port, IP_CASES)
    finally:
        stop_pid(proc)


# ---- unbound local-zones ----

def test_unbound_local_zones(exports, stub, tmp_path):
    checkconf(exports / "unbound.conf")
    port = free_port()
    conf = unbound_conf(tmp_path / "unbound.conf", port, stub,
                        "include: \"%s\"\n" % (exports / "unbound.conf"))
    checkconf(conf)
    proc = serve([need("unbound", "unbound"), "-d", "-c", str(conf)],
                 port, tmp_path / "unbound.log")
    try:
        check_answers(port, QNAME_CASES)
    finally:
        stop_pid(proc)


# ---- dnsmasq ----

def test_dnsmasq(exports, stub, tmp_path):
    tool = need("dnsmasq", "dnsmasq-base")
    conf = exports / "dnsmasq.conf"
    run = subprocess.run([tool, "--test", "--conf-file=%s" % conf],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "syntax check OK" in run.stdout + run.stderr
    port = free_port()
    proc = serve([tool, "-k", "--conf-file=%s" % conf, "--port=%d" % port,
                  "--listen-address=127.0.0.1", "--bind-interfaces",
                  "--no-resolv", "--no-hosts", "--pid-file=",
                  "--user=%s" % os.environ.get("USER", "root"),
                  "--server=127.0.0.1#%d" % stub.port, "--log-facility=-"],
                 port, tmp_path / "dnsmasq.log")
    try:
        check_answers(port, QNAME_CASES)
    finally:
        stop_pid(proc)


# ---- nft and ipset, in a network namespace ----

@pytest.fixture
def netns():
    ip = need("ip", "iproute2")
    name = "cordon-test-%d" % os.getpid()
    run = subprocess.run([ip, "netns", "add", name], capture_output=True,
                         text=True)
    if run.returncode != 0:
        pytest.skip("cannot make a network namespace: %s"
                    % run.stderr.strip())
    yield [ip, "netns", "exec", name]
    subprocess.run([ip, "netns", "delete", name], check=True)


def in_netns(netns, cmd, stdin=None):
    return subprocess.run(netns + cmd, capture_output=True, text=True,
                          stdin=stdin)


def skip_if_unprivileged(run, what):
    err = run.stderr.lower()
    if run.returncode != 0 and ("operation not permitted" in err or
                                "permission denied" in err):
        pytest.skip("%s needs CAP_NET_ADMIN: %s" % (what, run.stderr.strip()))


def test_nft(exports, netns):
    tool = need("nft", "nftables")
    path = str(exports / "cordon.nft")
    run = subprocess.run([tool, "-c", "-f", path], capture_output=True,
                         text=True)
    skip_if_unprivileged(run, "nft -c")
    assert run.returncode == 0, run.stderr
    # loaded for real, twice: the file must also replace an earlier load
    for _ in range(2):
        run = in_netns(netns, [tool, "-f", path])
        skip_if_unprivileged(run, "nft -f")
        assert run.returncode == 0, run.stderr
    run = in_netns(netns, [tool, "list", "set", "inet", "cordon",
                           "blocked_v4"])
    assert run.returncode == 0, run.stderr
    for elem in ("192.0.2.0/25", "192.0.2.192/26",
                 "198.51.100.0-198.51.100.11", "203.0.113.7"):
        assert elem in run.stdout, run.stdout
    assert "192.0.2.128" not in run.stdout
    run = in_netns(netns, [tool, "list", "set", "inet", "cordon",
                           "blocked_v6"])
    assert "2001:db8:8000::/33" in run.stdout, run.stdout


def test_ipset(exports, netns):
    tool = need("ipset", "ipset")
    for _ in range(2):
        with open(exports / "ipset.restore") as f:
            run = in_netns(netns, [tool, "restore"], stdin=f)
        skip_if_unprivileged(run, "ipset restore")
        if run.returncode != 0 and "kernel" in run.stderr.lower():
            pytest.skip("the kernel refused the set: %s" % run.stderr)
        assert run.returncode == 0, run.stderr
    for name, want in (("cordon_v4", V4_PREFIXES),
                       ("cordon_v6", V6_PREFIXES)):
        run = in_netns(netns, [tool, "list", name])
        assert run.returncode == 0, run.stderr
        members = run.stdout.split("Members:\n", 1)[1].split()
        # ipset lists a host prefix as the bare address
        want = [re.sub(r"/(32|128)$", "", p) for p in want]
        assert sorted(members) == sorted(want)
    run = in_netns(netns, [tool, "list", "-n"])
    assert sorted(run.stdout.split()) == ["cordon_v4", "cordon_v6"]
