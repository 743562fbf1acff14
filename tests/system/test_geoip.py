"""GeoIP (PRODUCT.md, "Configuration" [geoip] and [policy] block_countries /
block_asns, "Audit log" geo member, `cordond -t`, reload):

- with [geoip] country_db/asn_db every blocked line carries
  "geo":{"client":{...},"answer":{...}|null};
- block_countries / block_asns block answers whose addresses geolocate
  there ("trigger":"geo", "list":"geoip"), except addresses in an allow
  range;
- without [geoip] the daemon warns once and lines have no "geo";
- a missing or corrupt database, or a geo block without its database,
  fails `cordond -t` and start-up;
- a database replaced on disk is used after a reload.

The databases come from tests/fixtures/make-mmdb.pl (192.0.2.0/24 CN
AS64500, 198.51.100.0/24 US AS64501, 203.0.113.0/24 KY AS64502 "Offshore
Cloud", 2001:db8::/32 SC AS64503); write_mmdb() below writes variants."""

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import (CORDOND, TOP, build_conf, free_port, ipv6_available,
                      require_program)
from helpers import (MANIFEST, ede_list, rcode_text, read_lines, rrsets_of,
                     soa_of, verify_chain,
                     metrics_until)

MAKE_MMDB = TOP / "tests" / "fixtures" / "make-mmdb.pl"

ORG = {64500: "Example Exchange Hosting", 64501: 'Example "Quoted" \\ Net',
       64502: "Offshore Cloud", 64503: "Example IPv6 Transit"}
CN = {"country": "CN", "asn": 64500, "org": ORG[64500]}
US = {"country": "US", "asn": 64501, "org": ORG[64501]}
KY = {"country": "KY", "asn": 64502, "org": ORG[64502]}
SC = {"country": "SC", "asn": 64503, "org": ORG[64503]}

GEO_MANIFEST = MANIFEST + """
[source chains]
file = chains.domains
format = domains
category = tracking
kind = block

[source hostnets]
file = hostnets.cidr
format = cidr
category = offshore-hosting
kind = block

[source hostallow]
file = hostallow.cidr
format = cidr
category = allowed
kind = allow
"""
# 192.0.2.0/26 is listed; 192.0.2.64-127 (CN) is not; 192.0.2.128/25 is
# allowed.
HOSTNETS = "192.0.2.0/26\n198.51.100.7\n2001:db8:bad::/48\n"
HOSTALLOW = "192.0.2.128/25\n"


def lists(chains="target.test\n"):
    return {"sources.ini": GEO_MANIFEST,
            "chains.domains": chains or "# none\n",
            "hostnets.cidr": HOSTNETS, "hostallow.cidr": HOSTALLOW}


# ---- databases -----------------------------------------------------------

@pytest.fixture(scope="module")
def mmdb(tmp_path_factory):
    """The directory make-mmdb.pl wrote its databases into."""
    out = tmp_path_factory.mktemp("mmdb")
    res = subprocess.run(["perl", str(MAKE_MMDB), str(out)],
                         capture_output=True, text=True, timeout=60)
    if res.returncode != 0:
        pytest.fail("make-mmdb.pl failed:\n" + res.stderr, pytrace=False)
    for name in ("country.mmdb", "asn.mmdb"):
        assert (out / name).stat().st_size > 0, name
    return out


WRITER = r"""
use strict; use warnings;
use MaxMind::DB::Writer::Tree; use JSON::PP;
my $spec = decode_json(do { local $/; <STDIN> });
my %types = (country => 'map', iso_code => 'utf8_string',
    autonomous_system_number => 'uint32',
    autonomous_system_organization => 'utf8_string');
my $tree = MaxMind::DB::Writer::Tree->new(ip_version => $spec->{v},
    record_size => 24, database_type => $spec->{type}, languages => ['en'],
    description => { en => 'cordon test variant' },
    map_key_type_callback => sub { $types{ $_[0] } },
    alias_ipv6_to_ipv4 => $spec->{v} == 6 ? 1 : 0,
    remove_reserved_networks => 0);
$tree->insert_network($_->[0], $_->[1]) for @{ $spec->{nets} };
open my $fh, '>:raw', $spec->{path} or die "$spec->{path}: $!\n";
$tree->write_tree($fh);
close $fh or die "$spec->{path}: $!\n";
"""


def write_mmdb(path, kind, nets, ip_version=6):
    """Writes a GeoLite2-Country (kind "country": nets [(cidr, "CC")]) or
    GeoLite2-ASN (kind "asn": nets [(cidr, asn, org)]) database."""
    if kind == "country":
        spec_nets = [[n[0], {"country": {"iso_code": n[1]}}] for n in nets]
        dbtype = "GeoLite2-Country"
    else:
        spec_nets = [[n[0], {"autonomous_system_number": n[1],
                             "autonomous_system_organization": n[2]}]
                     for n in nets]
        dbtype = "GeoLite2-ASN"
    spec = {"path": str(path), "type": dbtype, "nets": spec_nets,
            "v": ip_version}
    res = subprocess.run(["perl", "-e", WRITER],
                         input=json.dumps(spec).encode(),
                         capture_output=True, timeout=30)
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    return path


COUNTRIES = [("192.0.2.0/24", "CN"), ("198.51.100.0/24", "US"),
             ("203.0.113.0/24", "KY"), ("2001:db8::/32", "SC")]


# ---- helpers -------------------------------------------------------------

def geo_overrides(mmdb, country="country.mmdb", asn="asn.mmdb",
                  countries=None, asns=None, extra=None):
    o = {"geoip": {}, "policy": {}}
    if country:
        o["geoip"]["country_db"] = str(Path(mmdb) / country)
    if asn:
        o["geoip"]["asn_db"] = str(Path(mmdb) / asn)
    if countries:
        o["policy"]["block_countries"] = countries
    if asns:
        o["policy"]["block_asns"] = asns
    for section, keys in (extra or {}).items():
        o.setdefault(section, {}).update(keys)
    return o


def records(d, qname=None, n=1, timeout=2.0):
    """Blocked-attempt records (for qname only, when given), once there
    are n of them or timeout passed."""
    deadline = time.monotonic() + timeout
    while True:
        out = []
        for ln in read_lines(d.audit, 0, 0):
            rec = json.loads(ln)
            if "event" not in rec and (qname is None or
                                       rec.get("qname") == qname):
                out.append(rec)
        if len(out) >= n or time.monotonic() >= deadline:
            return out
        time.sleep(0.02)


def one_record(d, qname):
    recs = records(d, qname)
    assert len(recs) == 1, (qname, recs)
    return recs[0]


def events(d):
    return [json.loads(ln) for ln in read_lines(d.audit, 0, 0)
            if '"event"' in ln]


def sighup_and_wait(d, timeout=5.0):
    before = len(events(d))
    os.kill(d.proc.pid, signal.SIGHUP)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(events(d)) > before:
            return
        time.sleep(0.02)
    pytest.fail("no policy event line within %.0fs of SIGHUP:\n%s" % (
        timeout, d.output()))


def assert_geo_blocked(d, qname, rdtype, rule, ip, answer_geo=None):
    resp = d.udp(qname, rdtype, edns=0)
    assert rcode_text(resp) == "NXDOMAIN", resp
    assert not resp.answer, resp
    soa_of(resp)
    edes = ede_list(resp)
    assert edes and edes[0][0] == 15 and "geoip" in edes[0][1], edes
    rec = one_record(d, qname)
    got = {k: rec.get(k) for k in ("trigger", "rule", "list", "answer_ip",
                                   "action")}
    assert got == {"trigger": "geo", "rule": rule, "list": "geoip",
                   "answer_ip": ip, "action": "nxdomain"}, rec
    assert "geo" in rec, rec
    if answer_geo is not None:
        assert rec["geo"] == {"client": {}, "answer": answer_geo}, rec
    return rec


def assert_passes(d, qname, rdtype, addr):
    resp = d.udp(qname, rdtype, edns=0)
    assert rrsets_of(resp.answer) == {(qname + ".", rdtype): [addr]}, resp
    assert not ede_list(resp), resp
    assert records(d, qname, timeout=0.2) == []


def run(args, timeout=10):
    require_program(args[0])
    return subprocess.run(args, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def check_and_start(tmp_path, upstream, overrides):
    """Writes a conf; returns (cordond -t result, start-up result).  A
    daemon that starts serving is stopped after 5 s and reported as
    returncode None."""
    conf = build_conf(tmp_path, free_port(), upstream.server, overrides,
                      lists(), name="geo-bad.conf")
    checked = run([CORDOND, "-t", "-c", str(conf)])
    try:
        started = run([CORDOND, "-f", "-c", str(conf)], timeout=5)
    except subprocess.TimeoutExpired as e:
        started = subprocess.CompletedProcess(e.cmd, None, "", str(
            e.stderr or ""))
    return checked, started


# ---- the geo member ------------------------------------------------------

def test_every_blocked_line_carries_geo(start_cordond, mmdb):
    v6 = ipv6_available()
    d = start_cordond(geo_overrides(mmdb), list_files=lists(), listen_v6=v6)
    cases = [
        # qname, rdtype, trigger, geo of the answer
        ("binance.com", "A", "qname", None),
        ("g1.cname.a-192-0-2-200.test", "A", "cname", None),
        ("g2.a-192-0-2-7.test", "A", "ip", CN),
        ("g3.a-198-51-100-7.test", "A", "ip", US),
        ("g4.aaaa-2001-db8-bad--1.test", "AAAA", "ip", SC),
    ]
    for qname, rdtype, trigger, answer in cases:
        assert rcode_text(d.udp(qname, rdtype)) == "NXDOMAIN", qname
        rec = one_record(d, qname)
        assert rec["trigger"] == trigger, rec
        assert rec.get("geo") == {"client": {}, "answer": answer}, rec
    if v6:
        assert rcode_text(d.udp("binance.com", "AAAA", addr="::1")) == (
            "NXDOMAIN")
        recs = [r for r in records(d, "binance.com", 2)
                if r["client"] == "::1"]
        assert len(recs) == 1 and recs[0].get("geo") == {
            "client": {}, "answer": None}, recs
    # Every line, the daemon's own probe's included, has the member, and
    # the escaped organisation keeps the chain verifiable.
    lines = read_lines(d.audit, 0, 0)
    for rec in map(json.loads, lines):
        if "event" not in rec:
            assert "geo" in rec, rec
    verify_chain(lines)


def test_client_geo_is_looked_up(start_cordond, tmp_path):
    db = tmp_path / "db"
    db.mkdir()
    write_mmdb(db / "c.mmdb", "country",
               COUNTRIES + [("127.0.0.0/8", "NZ")])
    write_mmdb(db / "a.mmdb", "asn",
               [("127.0.0.0/8", 64510, "Loopback Org"),
                ("192.0.2.0/24", 64500, ORG[64500])])
    # The client's own country is not an answer's: NZ blocks nothing here.
    d = start_cordond(geo_overrides(db, "c.mmdb", "a.mmdb", countries="NZ"),
                      list_files=lists())
    assert_passes(d, "k1.a-192-0-2-200.test", "A", "192.0.2.200")
    assert rcode_text(d.udp("k2.a-192-0-2-7.test", "A")) == "NXDOMAIN"
    rec = one_record(d, "k2.a-192-0-2-7.test")
    assert rec["trigger"] == "ip", rec
    assert rec.get("geo") == {
        "client": {"country": "NZ", "asn": 64510, "org": "Loopback Org"},
        "answer": CN}, rec


def test_without_geoip_one_warning_and_no_geo(start_cordond):
    d = start_cordond(list_files=lists())
    assert rcode_text(d.udp("n1.a-192-0-2-7.test", "A")) == "NXDOMAIN"
    assert rcode_text(d.udp("binance.com", "A")) == "NXDOMAIN"
    for q in ("n1.a-192-0-2-7.test", "binance.com"):
        rec = one_record(d, q)
        assert "geo" not in rec, rec
    err = d.errfile.read_text(errors="replace")
    warn = [ln for ln in err.splitlines() if "geoip" in ln.lower()]
    assert len(warn) == 1, err
    assert "warn" in warn[0].lower(), warn


# ---- block_countries / block_asns ----------------------------------------

def test_block_countries(start_cordond, upstream, mmdb):
    d = start_cordond(geo_overrides(mmdb, countries="KY, SC"),
                      list_files=lists(chains=""))
    assert_geo_blocked(d, "b1.a-203-0-113-5.test", "A", "country KY",
                       "203.0.113.5", KY)
    assert upstream.count("b1.a-203-0-113-5.test") == 1
    assert_geo_blocked(d, "b2.aaaa-2001-db8--7.test", "AAAA", "country SC",
                       "2001:db8::7", SC)
    # The address the CNAME leads to counts as well.
    assert_geo_blocked(d, "b3.cname.a-203-0-113-9.test", "A", "country KY",
                       "203.0.113.9", KY)
    # Other countries, and addresses no database knows, pass.
    assert_passes(d, "b4.a-198-51-100-9.test", "A", "198.51.100.9")
    assert_passes(d, "b5.a-192-0-2-100.test", "A", "192.0.2.100")
    # Asked again (from the cache), still blocked.
    resp = d.udp("b1.a-203-0-113-5.test", "A")
    assert rcode_text(resp) == "NXDOMAIN", resp
    assert upstream.count("b1.a-203-0-113-5.test") == 1


@pytest.mark.parametrize("asns", ["AS64501", "64501", "AS64999, AS64501"])
def test_block_asns(start_cordond, mmdb, asns):
    d = start_cordond(geo_overrides(mmdb, country=None, asns=asns),
                      list_files=lists(chains=""))
    rec = assert_geo_blocked(d, "s1.a-198-51-100-9.test", "A", "AS64501",
                             "198.51.100.9")
    assert rec["geo"] == {"client": {}, "answer": {
        "asn": 64501, "org": ORG[64501]}}, rec
    assert_passes(d, "s2.a-203-0-113-5.test", "A", "203.0.113.5")


def test_allow_range_is_not_geo_blocked(start_cordond, mmdb):
    d = start_cordond(geo_overrides(mmdb, countries="CN", asns="AS64500"),
                      list_files=lists(chains=""))
    assert_passes(d, "w1.a-192-0-2-200.test", "A", "192.0.2.200")
    assert_passes(d, "w2.a-192-0-2-128.test", "A", "192.0.2.128")
    assert_geo_blocked(d, "w3.a-192-0-2-100.test", "A", "country CN",
                       "192.0.2.100", CN)
    # A listed range decides before GeoIP does.
    assert rcode_text(d.udp("w4.a-192-0-2-7.test", "A")) == "NXDOMAIN"
    rec = one_record(d, "w4.a-192-0-2-7.test")
    assert (rec["trigger"], rec["list"], rec["rule"]) == (
        "ip", "hostnets", "192.0.2.0/26"), rec


@pytest.mark.parametrize("country,asn,countries,asns,ip,rule,answer", [
    ("city.mmdb", None, "KY", None, "203.0.113.5", "country KY",
     {"country": "KY"}),
    ("iplocation.mmdb", None, "KY", None, "203.0.113.5", "country KY",
     {"country": "KY"}),
    ("both.mmdb", "both.mmdb", "KY", None, "203.0.113.5", "country KY", KY),
    (None, "both.mmdb", None, "AS64502", "203.0.113.5", "AS64502",
     {"asn": 64502, "org": ORG[64502]}),
])
def test_other_database_schemas(start_cordond, mmdb, country, asn,
                                countries, asns, ip, rule, answer):
    d = start_cordond(geo_overrides(mmdb, country, asn, countries, asns),
                      list_files=lists(chains=""))
    assert_geo_blocked(d, "v1.a-203-0-113-5.test", "A", rule, ip, answer)
    assert_passes(d, "v2.a-192-0-2-100.test", "A", "192.0.2.100")


def test_geo_blocks_counted_in_metrics(start_cordond, mmdb):
    mport = free_port()
    d = start_cordond(geo_overrides(
        mmdb, countries="KY", asns="AS64501",
        extra={"control": {"http": "127.0.0.1:%d" % mport}}),
        list_files=lists(chains=""))
    key = 'cordon_blocked_total{list="geoip",trigger="geo"}'
    assert rcode_text(d.udp("t1.a-203-0-113-5.test", "A")) == "NXDOMAIN"
    assert rcode_text(d.udp("t2.a-198-51-100-9.test", "A")) == "NXDOMAIN"
    assert rcode_text(d.udp("t3.a-192-0-2-100.test", "A")) == "NOERROR"
    assert rcode_text(d.udp("t4.a-192-0-2-7.test", "A")) == "NXDOMAIN"
    got = metrics_until(mport, {key: 2.0})
    assert got.get(key) == 2.0, {k: v for k, v in got.items()
                                  if "blocked" in k}
    # The ip block is counted under its list, not under geoip.
    ip = 'cordon_blocked_total{list="hostnets",trigger="ip"}'
    assert got.get(ip, 0) >= 1, got


# ---- configuration errors ------------------------------------------------

@pytest.mark.parametrize("key", ["country_db", "asn_db"])
@pytest.mark.parametrize("kind", ["missing", "garbage", "empty"])
def test_unusable_database_fails_check_and_startup(tmp_path, upstream, mmdb,
                                                   key, kind):
    bad = tmp_path / ("broken-%s.mmdb" % kind)
    if kind == "garbage":
        bad.write_bytes(os.urandom(3000))
    elif kind == "empty":
        bad.write_bytes(b"")
    o = geo_overrides(mmdb)
    o["geoip"][key] = str(bad)
    checked, started = check_and_start(tmp_path, upstream, o)
    assert checked.returncode == 1, checked
    assert bad.name in checked.stderr, checked.stderr
    assert started.returncode == 1, started
    assert bad.name in started.stderr, started.stderr


@pytest.mark.parametrize("country,asn,countries,asns,word", [
    (None, None, "KY", None, "block_countries"),
    (None, "asn.mmdb", "KY", None, "block_countries"),
    (None, None, None, "AS64501", "block_asns"),
    ("country.mmdb", None, None, "AS64501", "block_asns"),
])
def test_geo_blocking_without_its_database_fails(tmp_path, upstream, mmdb,
                                                 country, asn, countries,
                                                 asns, word):
    o = geo_overrides(mmdb, country, asn, countries, asns)
    checked, started = check_and_start(tmp_path, upstream, o)
    assert checked.returncode == 1, checked
    assert word in checked.stderr, checked.stderr
    assert started.returncode == 1, started
    assert word in started.stderr, started.stderr


def test_good_geo_config_checks_clean(tmp_path, upstream, mmdb):
    conf = build_conf(tmp_path, free_port(), upstream.server, geo_overrides(
        mmdb, countries="KY", asns="AS64501"), lists(), name="good.conf")
    res = run([CORDOND, "-t", "-c", str(conf)])
    assert res.returncode == 0, res.stderr


# ---- reload --------------------------------------------------------------

@pytest.mark.parametrize("how", ["rename", "copy"])
def test_replaced_database_is_used_after_reload(start_cordond, upstream,
                                                mmdb, tmp_path, how):
    db = tmp_path / "db"
    db.mkdir()
    shutil.copyfile(mmdb / "country.mmdb", db / "country.mmdb")
    d = start_cordond(geo_overrides(db, asn=None, countries="KY"),
                      list_files=lists(chains=""))
    assert_geo_blocked(d, "h1.a-203-0-113-5.test", "A", "country KY",
                       "203.0.113.5", {"country": "KY"})
    assert_passes(d, "h2.a-198-51-100-9.test", "A", "198.51.100.9")
    # KY's range moves to DE, and US's range to KY.
    new = write_mmdb(tmp_path / "new.mmdb", "country",
                     [("192.0.2.0/24", "CN"), ("198.51.100.0/24", "KY"),
                      ("203.0.113.0/24", "DE"), ("2001:db8::/32", "SC")])
    if how == "rename":
        os.replace(new, db / "country.mmdb")
    else:
        shutil.copyfile(new, db / "country.mmdb")   # rewritten in place
        # Not reloaded yet: whatever it answers, the daemon keeps serving.
        d.udp("h3.a-203-0-113-5.test", "A")
        assert d.alive(), d.output()
    sighup_and_wait(d)
    assert_passes(d, "h4.a-203-0-113-5.test", "A", "203.0.113.5")
    assert_geo_blocked(d, "h5.a-198-51-100-9.test", "A", "country KY",
                       "198.51.100.9", {"country": "KY"})
    # Answers cached under the old database are judged by the new one.
    n = upstream.count("h1.a-203-0-113-5.test")
    resp = d.udp("h1.a-203-0-113-5.test", "A")
    assert rrsets_of(resp.answer) == {
        ("h1.a-203-0-113-5.test.", "A"): ["203.0.113.5"]}, resp
    assert upstream.count("h1.a-203-0-113-5.test") == n
    resp = d.udp("h2.a-198-51-100-9.test", "A")
    assert rcode_text(resp) == "NXDOMAIN", resp


def test_reload_with_corrupt_database_keeps_old_one(start_cordond, mmdb,
                                                    tmp_path):
    db = tmp_path / "db"
    db.mkdir()
    shutil.copyfile(mmdb / "country.mmdb", db / "country.mmdb")
    d = start_cordond(geo_overrides(db, asn=None, countries="KY"),
                      list_files=lists(chains=""))
    assert_geo_blocked(d, "f1.a-203-0-113-5.test", "A", "country KY",
                       "203.0.113.5", {"country": "KY"})
    before = len(events(d))
    seen = len(d.errfile.read_bytes())
    junk = tmp_path / "junk"
    junk.write_bytes(os.urandom(2000))
    os.replace(junk, db / "country.mmdb")
    os.kill(d.proc.pid, signal.SIGHUP)
    deadline = time.monotonic() + 5
    said = ""
    while time.monotonic() < deadline and "country.mmdb" not in said:
        time.sleep(0.05)
        said = d.errfile.read_bytes()[seen:].decode(errors="replace")
    assert "country.mmdb" in said, d.output()
    assert d.alive(), d.output()
    assert len(events(d)) == before
    assert_geo_blocked(d, "f2.a-203-0-113-5.test", "A", "country KY",
                       "203.0.113.5", {"country": "KY"})
    assert_passes(d, "f3.a-198-51-100-9.test", "A", "198.51.100.9")


def test_ipv4_mapped_answer_geolocates_as_ipv4(start_cordond, mmdb):
    d = start_cordond(geo_overrides(mmdb, countries="KY"),
                      list_files=lists(chains=""))
    # ::ffff:203.0.113.5 in an AAAA answer
    assert_geo_blocked(d, "m1.aaaa---ffff-cb00-7105.test", "AAAA",
                       "country KY", "::ffff:203.0.113.5", KY)


def test_geo_blocking_works_with_check_answer_ips_off(start_cordond, mmdb):
    d = start_cordond(geo_overrides(
        mmdb, countries="KY", extra={"policy": {"check_answer_ips": "no"}}),
        list_files=lists(chains=""))
    assert_geo_blocked(d, "x1.a-203-0-113-5.test", "A", "country KY",
                       "203.0.113.5", KY)
    assert_passes(d, "x2.a-192-0-2-7.test", "A", "192.0.2.7")


def test_reload_applies_changed_block_countries(start_cordond, mmdb):
    """A reload re-reads cordon.conf (it opens the databases it names);
    a changed block_countries applies, or the daemon says that it needs a
    restart."""
    d = start_cordond(geo_overrides(mmdb, countries="KY"),
                      list_files=lists(chains=""))
    assert_geo_blocked(d, "y1.a-203-0-113-5.test", "A", "country KY",
                       "203.0.113.5", KY)
    seen = len(d.errfile.read_bytes())
    d.conf.write_text(d.conf.read_text().replace(
        "block_countries = KY", "block_countries = US"))
    sighup_and_wait(d)
    said = d.errfile.read_bytes()[seen:].decode(errors="replace")
    r_ky = rcode_text(d.udp("y2.a-203-0-113-5.test", "A"))
    r_us = rcode_text(d.udp("y3.a-198-51-100-9.test", "A"))
    if (r_ky, r_us) != ("NOERROR", "NXDOMAIN"):
        assert "block_countries" in said and "restart" in said, (
            "block_countries KY -> US at reload: KY answer %s, US answer "
            "%s, and the daemon said:\n%s" % (r_ky, r_us, said))


DIAG_LINE = r"^cordon: (?P<file>\S+?):(?P<line>\d+): (?P<msg>.+)$"


@pytest.mark.parametrize("case", ["missing_db", "countries_without_db"])
def test_geo_config_errors_name_the_line(tmp_path, upstream, mmdb, case):
    """Errors are "cordon: FILE:LINE: message" (PRODUCT.md, "Programs")."""
    if case == "missing_db":
        o = geo_overrides(mmdb, country="nowhere.mmdb", asn=None)
        key = "country_db = "
    else:
        o = geo_overrides(mmdb, country=None, asn=None, countries="KY")
        key = "block_countries = "
    checked, started = check_and_start(tmp_path, upstream, o)
    conf = tmp_path / "geo-bad.conf"
    lineno = [i + 1 for i, ln in enumerate(conf.read_text().splitlines())
              if ln.startswith(key)]
    assert len(lineno) == 1
    for res in (checked, started):
        assert res.returncode == 1, res
        found = [m.groupdict() for m in (re.match(DIAG_LINE, ln) for ln in
                 res.stderr.splitlines()) if m]
        assert any(Path(f["file"]).name == conf.name and
                   int(f["line"]) == lineno[0] for f in found), (
            "want cordon: %s:%d: ..., got:\n%s" % (conf, lineno[0],
                                                   res.stderr))


def test_reload_with_several_threads_uses_new_database(start_cordond, mmdb,
                                                       tmp_path):
    """Each worker thread looks up (and caches) on its own; after a reload
    every one of them uses the new database."""
    db = tmp_path / "db"
    db.mkdir()
    shutil.copyfile(mmdb / "country.mmdb", db / "country.mmdb")
    d = start_cordond(geo_overrides(
        db, asn=None, countries="KY", extra={"server": {"threads": "4"},
                                             "upstream": {"cache_size": "0"}}),
        list_files=lists(chains=""))
    # Fresh sockets (source ports) spread the queries over the workers.
    for i in range(16):
        assert rcode_text(d.udp("z.a-203-0-113-5.test", "A")) == "NXDOMAIN"
    new = write_mmdb(tmp_path / "new.mmdb", "country",
                     [("203.0.113.0/24", "DE")])
    os.replace(new, db / "country.mmdb")
    sighup_and_wait(d)
    got = [rcode_text(d.udp("z.a-203-0-113-5.test", "A")) for _ in range(16)]
    assert got == ["NOERROR"] * 16, got


ODD_ORGS = {
    64500: 'Line1\nLine2\t"q" \\ \x01\x7f \u00dcn\u00efcode \u2603',
    64501: "\u00c9" * 40 + "X",            # 81 octets of UTF-8
    64502: "\u4e2d\u6587" * 30,            # 180 octets of UTF-8
}


def test_org_names_are_written_as_valid_json(start_cordond, tmp_path):
    """Whatever a database holds, each audit line stays one line of valid
    UTF-8 JSON; an organisation may be shortened, not mangled."""
    db = tmp_path / "db"
    db.mkdir()
    write_mmdb(db / "asn.mmdb", "asn", [
        ("192.0.2.0/24", 64500, ODD_ORGS[64500]),
        ("198.51.100.0/24", 64501, ODD_ORGS[64501]),
        ("203.0.113.0/24", 64502, ODD_ORGS[64502])])
    d = start_cordond(geo_overrides(db, country=None, asns="AS64502"),
                      list_files=lists(chains=""))
    for q in ("o1.a-192-0-2-7.test", "o2.a-198-51-100-7.test",
              "o3.a-203-0-113-5.test"):
        assert rcode_text(d.udp(q, "A")) == "NXDOMAIN", q
    records(d, "o3.a-203-0-113-5.test")
    raw = d.audit.read_bytes()
    text = raw.decode("utf-8")          # fails on invalid UTF-8
    lines = text.split("\n")[:-1]
    verify_chain(lines)
    recs = {}
    for ln in lines:
        rec = json.loads(ln)
        if "event" not in rec:
            recs[rec["qname"]] = rec
    orgs = {q: recs[q]["geo"]["answer"].get("org", "") for q in
            ("o1.a-192-0-2-7.test", "o2.a-198-51-100-7.test",
             "o3.a-203-0-113-5.test")}
    assert orgs["o1.a-192-0-2-7.test"] == ODD_ORGS[64500], orgs
    for q, asn in (("o2.a-198-51-100-7.test", 64501),
                   ("o3.a-203-0-113-5.test", 64502)):
        assert orgs[q] and ODD_ORGS[asn].startswith(orgs[q]), orgs
        assert recs[q]["geo"]["answer"]["asn"] == asn
    assert recs["o3.a-203-0-113-5.test"]["trigger"] == "geo"


def test_ipv4_only_database_and_ipv6_answers(start_cordond, tmp_path):
    """An IPv4-only database knows nothing of IPv6 answers: they pass (or
    are judged by the lists) and the daemon keeps serving."""
    db = tmp_path / "db"
    db.mkdir()
    write_mmdb(db / "c4.mmdb", "country", COUNTRIES[:3], ip_version=4)
    d = start_cordond(geo_overrides(db, "c4.mmdb", None, countries="KY, SC"),
                      list_files=lists(chains=""))
    assert_passes(d, "p1.aaaa-2001-db8--7.test", "AAAA", "2001:db8::7")
    assert rcode_text(d.udp("p2.aaaa-2001-db8-bad--1.test", "AAAA")) == (
        "NXDOMAIN")
    rec = one_record(d, "p2.aaaa-2001-db8-bad--1.test")
    assert rec["trigger"] == "ip" and rec["geo"] == {
        "client": {}, "answer": {}}, rec
    assert_geo_blocked(d, "p3.a-203-0-113-5.test", "A", "country KY",
                       "203.0.113.5", {"country": "KY"})
