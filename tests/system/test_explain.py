"""`cordon explain NAME|IP [-c CONFIG|MANIFEST]` (PRODUCT.md "The cordon
tool"; issue 3 point 6 and issue 4 point 6): which rule of which list and
kind decides, the action, and for an address the range that matches and
what GeoIP knows of it."""

import os
import subprocess
from pathlib import Path

import dns.edns
import dns.rcode
import pytest

from helpers import CIDR_FILES, rcode_text

TOP = Path(__file__).resolve().parents[2]
CORDON = os.environ.get("CORDON", str(TOP / "daemon" / "cordon"))
MAKE_MMDB = TOP / "tests" / "fixtures" / "make-mmdb.pl"


def explain(*args):
    res = subprocess.run([CORDON, "explain", *args], capture_output=True,
                         text=True, timeout=20)
    return res.returncode, res.stdout.splitlines(), res.stderr


@pytest.fixture
def lists(tmp_path):
    (tmp_path / "ex.domains").write_text("binance.com\nexample.com\n")
    (tmp_path / "ok.domains").write_text("safe.example.com\n")
    (tmp_path / "bad.cidr").write_text("192.0.2.0/24\n2001:db8::/32\n")
    (tmp_path / "ok.cidr").write_text("192.0.2.128/25\n")
    (tmp_path / "sources.ini").write_text(
        "[source exchanges]\nfile = ex.domains\nformat = domains\n"
        "category = exchange\n"
        "[source mine]\nfile = ok.domains\nformat = domains\nkind = allow\n"
        "[source infra]\nfile = bad.cidr\nformat = cidr\ncategory = infra\n"
        "[source okips]\nfile = ok.cidr\nformat = cidr\nkind = allow\n")
    return tmp_path


def test_names_from_a_manifest(lists):
    rc, out, err = explain("www.binance.com", "safe.example.com",
                           "bad.safe.example.com", "debian.org",
                           "-c", str(lists / "sources.ini"))
    assert rc == 0, err
    assert out[0] == ("www.binance.com: blocked by binance.com (list "
                      "exchanges, category exchange, kind block, action "
                      "nxdomain)")
    assert out[1].startswith("safe.example.com: allowed by "
                             "safe.example.com (list mine")
    assert out[2].startswith("bad.safe.example.com: allowed by "
                             "safe.example.com")
    assert out[3] == "debian.org: allowed (no list names it)"


def test_addresses_and_the_range_that_matches(lists):
    rc, out, err = explain("192.0.2.7", "192.0.2.200", "2001:db8::5",
                           "::ffff:192.0.2.9", "10.0.0.1",
                           "-c", str(lists / "sources.ini"))
    assert rc == 0, err
    assert out[0].startswith("192.0.2.7: blocked by 192.0.2.0/24 (list "
                             "infra, category infra, kind block")
    assert out[1].startswith("192.0.2.200: allowed by 192.0.2.128/25 "
                             "(list okips")
    assert out[2].startswith("2001:db8::5: blocked by 2001:db8::/32")
    assert out[3].startswith("::ffff:192.0.2.9: blocked by 192.0.2.0/24")
    assert out[4] == "10.0.0.1: allowed (no list names a range holding it)"


def test_the_same_from_a_compiled_snapshot(lists, tmp_path):
    res = subprocess.run([CORDON, "compile", str(lists / "sources.ini"),
                          "-o", str(tmp_path / "out")], capture_output=True,
                         text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    rc, out, err = explain("www.binance.com", "192.0.2.7", "-c",
                           str(tmp_path / "out" / "policy.cpol"))
    assert rc == 0, err
    assert out[0].startswith("www.binance.com: blocked by binance.com")
    assert out[1].startswith("192.0.2.7: blocked by 192.0.2.0/24")


def test_geoip_facts_and_geo_blocks_with_a_config(lists, tmp_path):
    if subprocess.run(["perl", "-MMaxMind::DB::Writer::Tree", "-e", "1"],
                      capture_output=True).returncode != 0:
        pytest.skip("Perl's MaxMind::DB::Writer (libmaxmind-db-writer-perl)"
                    " is not installed")
    dbs = tmp_path / "mmdb"
    dbs.mkdir()
    subprocess.run(["perl", str(MAKE_MMDB), str(dbs)], check=True,
                   capture_output=True, timeout=60)
    conf = tmp_path / "cordon.conf"
    conf.write_text(
        "[upstream]\nservers = 127.0.0.1:9\n"
        f"[policy]\nlists = {lists / 'sources.ini'}\n"
        "block_countries = KY\nblock_asns = AS64501\n"
        f"[geoip]\ncountry_db = {dbs / 'country.mmdb'}\n"
        f"asn_db = {dbs / 'asn.mmdb'}\n")
    rc, out, err = explain("203.0.113.5", "198.51.100.9", "192.0.2.7",
                           "-c", str(conf))
    assert rc == 0, err
    assert out[0] == ("203.0.113.5: blocked by country KY ([policy] "
                      "block_countries) (list geoip, action nxdomain)")
    assert out[1] == ("203.0.113.5: geoip: country KY, AS64502 "
                      "(Offshore Cloud)")
    assert out[2].startswith("198.51.100.9: blocked by AS64501 ([policy] "
                             "block_asns)")
    assert out[4].startswith("192.0.2.7: blocked by 192.0.2.0/24")
    assert out[5] == ("192.0.2.7: geoip: country CN, AS64500 (Example "
                      "Exchange Hosting)")


def write_conf(tmp_path, lists, policy="", geoip=""):
    conf = tmp_path / "cordon.conf"
    conf.write_text(
        "[upstream]\nservers = 127.0.0.1:9\n"
        f"[policy]\nlists = {lists / 'sources.ini'}\n{policy}"
        f"{geoip}")
    return conf


def test_check_answer_ips_off_means_ranges_do_not_block(lists, tmp_path):
    """With [policy] check_answer_ips = no the daemon lets answers into a
    listed range through; explain says so and names the range."""
    conf = write_conf(tmp_path, lists, "check_answer_ips = no\n")
    rc, out, err = explain("192.0.2.7", "192.0.2.200", "10.0.0.1",
                           "binance.com", "-c", str(conf))
    assert rc == 0, err
    assert out[0] == ("192.0.2.7: allowed (in blocked range 192.0.2.0/24 "
                      "of list infra, but [policy] check_answer_ips = no: "
                      "answers with it are not blocked)")
    assert out[1] == ("192.0.2.200: allowed (in allow range 192.0.2.128/25 "
                      "of list okips; [policy] check_answer_ips = no)")
    assert out[2] == "10.0.0.1: allowed (no list names a range holding it)"
    # names are not affected
    assert out[3].startswith("binance.com: blocked by binance.com")
    # the default (and yes) still block
    conf = write_conf(tmp_path, lists, "check_answer_ips = yes\n")
    rc, out, err = explain("192.0.2.7", "-c", str(conf))
    assert rc == 0, err
    assert out[0].startswith("192.0.2.7: blocked by 192.0.2.0/24")


def test_explain_agrees_with_the_daemon_on_check_answer_ips(start_cordond,
                                                           tmp_path):
    """The same config, asked of the daemon and of explain."""
    for setting, blocked in (("no", False), ("yes", True)):
        d = start_cordond({"policy": {"check_answer_ips": setting}},
                          list_files=CIDR_FILES, tag="cordond-" + setting,
                          workdir=tmp_path / setting)
        resp = d.udp("x.a-198-51-100-7.test", "A")
        assert (rcode_text(resp) == "NXDOMAIN") == blocked, resp
        rc, out, err = explain("198.51.100.7", "-c", str(d.conf))
        assert rc == 0, err
        assert out[0].startswith("198.51.100.7: blocked by" if blocked else
                                 "198.51.100.7: allowed (in blocked range "
                                 "198.51.100.0/24 of list badnets"), out


def test_geo_blocks_with_check_answer_ips_off(lists, tmp_path):
    """query.c's order: with check_answer_ips an allow range vouches for an
    address against GeoIP; without it, GeoIP decides alone."""
    if subprocess.run(["perl", "-MMaxMind::DB::Writer::Tree", "-e", "1"],
                      capture_output=True).returncode != 0:
        pytest.skip("Perl's MaxMind::DB::Writer (libmaxmind-db-writer-perl)"
                    " is not installed")
    dbs = tmp_path / "mmdb"
    dbs.mkdir()
    subprocess.run(["perl", str(MAKE_MMDB), str(dbs)], check=True,
                   capture_output=True, timeout=60)
    (lists / "kyok.cidr").write_text("203.0.113.0/28\n")
    with open(lists / "sources.ini", "a") as f:
        f.write("[source kyok]\nfile = kyok.cidr\nformat = cidr\n"
                "kind = allow\n")
    geoip = (f"[geoip]\ncountry_db = {dbs / 'country.mmdb'}\n"
             f"asn_db = {dbs / 'asn.mmdb'}\n")
    conf = write_conf(tmp_path, lists, "block_countries = KY\n", geoip)
    rc, out, err = explain("203.0.113.5", "-c", str(conf))
    assert rc == 0, err
    assert out[0].startswith("203.0.113.5: allowed by 203.0.113.0/28 "
                             "(list kyok"), out
    conf = write_conf(tmp_path, lists, "block_countries = KY\n"
                      "check_answer_ips = no\n", geoip)
    rc, out, err = explain("203.0.113.5", "192.0.2.7", "-c", str(conf))
    assert rc == 0, err
    assert out[0] == ("203.0.113.5: blocked by country KY ([policy] "
                      "block_countries) (list geoip, action nxdomain); "
                      "allow range 203.0.113.0/28 of list kyok not "
                      "consulted: [policy] check_answer_ips = no")
    assert out[1] == ("203.0.113.5: geoip: country KY, AS64502 "
                      "(Offshore Cloud)")
    assert out[2].startswith("192.0.2.7: allowed (in blocked range "
                             "192.0.2.0/24 of list infra, but [policy] "
                             "check_answer_ips = no"), out


def test_bad_input(lists):
    rc, _, err = explain("bad..name", "-c", str(lists / "sources.ini"))
    assert rc == 1 and "bad..name" in err
    rc, _, err = explain("-c", str(lists / "sources.ini"))
    assert rc == 2
    rc, _, err = explain("x.com", "-c", str(lists / "missing.ini"))
    assert rc == 1 and "missing.ini" in err


def _daemon_answer_lines(resp):
    """The daemon's answer in explain -a's words: the rcode and EDE, then
    each answer and authority record split into fields."""
    head = dns.rcode.to_text(resp.rcode())
    for opt in resp.options:
        if opt.otype == dns.edns.EDE:
            head += f', EDE {int(opt.code)} "{opt.text}"'
    records = []
    for section in (resp.answer, resp.authority):
        for rrset in section:
            for line in rrset.to_text().splitlines():
                records.append(line.split())
    return head, records


@pytest.mark.parametrize("action", ["nxdomain", "nodata", "refused",
                                    "sinkhole"])
def test_explain_answers_are_the_daemons(start_cordond, tmp_path, action):
    """explain -a shows the answers the daemon gives for a blocked name,
    record for record: the same reply code builds them (dns/reply.c), and
    ldns prints what it reads back from the wire."""
    d = start_cordond({"policy": {"action": action, "ttl": "300",
                                  "sinkhole_a": "192.0.2.66",
                                  "sinkhole_aaaa": "2001:db8::66"}},
                      tag="cordond-" + action, workdir=tmp_path / action)
    rc, out, err = explain("-a", "www.binance.com", "debian.org", "-c",
                           str(d.conf))
    assert rc == 0, err
    assert out[0].startswith("www.binance.com: blocked by binance.com")
    assert out[-1] == "debian.org: allowed (no list names it)"
    shown = {}
    rest = out[1:-1]
    while rest:
        head = rest.pop(0)
        name, what = head.split(": ", 1)
        assert name == "www.binance.com", head
        qtype, what = what.split(" answer: ", 1)
        recs = []
        while rest and rest[0].startswith("\t"):
            recs.append(rest.pop(0).split())
        shown[qtype] = (what, recs)
    assert sorted(shown) == ["A", "AAAA"]
    for qtype in ("A", "AAAA"):
        resp = d.udp("www.binance.com", qtype, edns=0)
        assert shown[qtype] == _daemon_answer_lines(resp), (qtype, out)
    # the settings really are in the records
    if action == "sinkhole":
        assert shown["A"][1] == [["www.binance.com.", "300", "IN", "A",
                                  "192.0.2.66"]]
    elif action != "refused":
        assert shown["A"][1][0][:5] == ["binance.com.", "300", "IN", "SOA",
                                        "localhost."]
