"""Real DNS servers for the DNSSEC and differential system tests
(test_dnssec.py, test_differential.py); no fixture of conftest.py uses
this module.

- build_signed_zones(dir): two zones built and signed at test time with
  ldns-keygen (ECDSAP256SHA256, a KSK and a ZSK each) and ldns-signzone:
  example.test. (NSEC) and nsec3.test. (NSEC3, `-n`).  In example.test.
  the A record of bogus.example.test. is changed after signing, so its
  RRSIG no longer verifies.
- Nsd: `nsd -d -c CONF` serving the signed zones on a loopback port (no
  chroot, no database, every state file in the tmp dir).
- Unbound: `unbound -d -c CONF`, either validating (trust anchors = the
  zones' DS records, sets AD on what validates, SERVFAIL on bogus unless
  CD) or a plain forwarder (module-config "iterator").  Both forward
  everything to the NSD, so nothing leaves the loopback interface.

Every process is started with Popen and stopped by its PID (SIGTERM, then
SIGKILL).
"""

import shutil
import socket
import subprocess
import time
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import pytest

from conftest import free_port, stop_pid, tail

NSD = shutil.which("nsd") or "/usr/sbin/nsd"
UNBOUND = shutil.which("unbound") or "/usr/sbin/unbound"
KEYGEN = shutil.which("ldns-keygen") or "/usr/bin/ldns-keygen"
SIGNZONE = shutil.which("ldns-signzone") or "/usr/bin/ldns-signzone"
READY_TIMEOUT = 10.0

ZONE = "example.test."
NSEC3_ZONE = "nsec3.test."
BOGUS = "bogus.example.test."
BOGUS_SIGNED_A = "192.0.2.66"     # what was signed
BOGUS_SERVED_A = "192.0.2.67"     # what NSD serves (RRSIG does not match)

# 12 TXT strings of 240 octets: ~3 kB, more than any UDP size a test uses
BIG_TXT = " ".join('"big-%02d-%s"' % (i, "x" * 232) for i in range(12))

ZONE_TEXT = """\
$ORIGIN {origin}
$TTL 300
@        IN SOA  ns.{origin} hostmaster.{origin} 1 3600 600 86400 300
@        IN NS   ns.{origin}
@        IN MX   10 mail.{origin}
ns       IN A    127.0.0.1
www      IN A    192.0.2.10
www      IN AAAA 2001:db8::10
www      IN TXT  "hello from www"
www      IN MX   20 mail.{origin}
mail     IN A    192.0.2.25
mail     IN AAAA 2001:db8::25
multi    IN MX   10 mx1.{origin}
multi    IN MX   20 mx2.{origin}
multi    IN MX   30 mx3.{origin}
multi    IN MX   40 mx4.{origin}
mx1      IN A    192.0.2.31
mx1      IN AAAA 2001:db8::31
mx2      IN A    192.0.2.32
mx2      IN AAAA 2001:db8::32
mx3      IN A    192.0.2.33
mx3      IN AAAA 2001:db8::33
mx4      IN A    192.0.2.34
mx4      IN AAAA 2001:db8::34
alias    IN CNAME www.{origin}
chain    IN CNAME alias.{origin}
dangling IN CNAME gone.{origin}
*.wild   IN A    192.0.2.80
*.wild   IN TXT  "wildcard"
big      IN TXT  {big}
bogus    IN A    {bogus}
sub      IN NS   ns.sub.{origin}
sub      IN DS   12345 13 2 {ds}
ns.sub   IN A    127.0.0.1
"""
FAKE_DS = "49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE9CB0BC4EF5BC7C4D3C7B3C2A"


class Zone:
    """One signed zone on disk."""

    def __init__(self, origin, signed, ksk):
        self.origin = origin
        self.signed = Path(signed)          # the zone file NSD serves
        self.ksk = Path(ksk)                # Kzone+013+id (no suffix)

    @property
    def ksk_key(self):
        return self.ksk.with_name(self.ksk.name + ".key")

    @property
    def ksk_ds(self):
        return self.ksk.with_name(self.ksk.name + ".ds")

    def dnskey_fields(self):
        """(owner, flags, protocol, algorithm, base64) of the KSK."""
        text = self.ksk_key.read_text().split(";")[0].split()
        # owner [ttl] IN DNSKEY flags proto alg key...
        i = text.index("DNSKEY")
        return (text[0], text[i + 1], text[i + 2], text[i + 3],
                "".join(text[i + 4:]))


def _run(args, cwd):
    r = subprocess.run(args, cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (
            " ".join(map(str, args)), r.returncode,
            r.stderr.decode(errors="replace")))
    return r.stdout.decode().strip()


def _sign(directory, origin, nsec3):
    name = origin.rstrip(".")
    src = directory / ("%s.zone" % name)
    src.write_text(ZONE_TEXT.format(origin=origin, big=BIG_TXT,
                                    bogus=BOGUS_SIGNED_A, ds=FAKE_DS))
    ksk = _run([KEYGEN, "-a", "ECDSAP256SHA256", "-k", name], directory)
    zsk = _run([KEYGEN, "-a", "ECDSAP256SHA256", name], directory)
    args = [SIGNZONE]
    if nsec3:
        args += ["-n", "-s", "abcd", "-t", "2"]
    args += ["-o", origin, str(src), ksk, zsk]
    _run(args, directory)
    signed = directory / ("%s.zone.signed" % name)
    return Zone(origin, signed, directory / ksk)


def _corrupt_bogus(zone):
    """Changes bogus's A record after signing: its RRSIG stays, invalid."""
    lines = zone.signed.read_text().splitlines()
    hits = 0
    for i, line in enumerate(lines):
        f = line.split()
        if (len(f) == 5 and f[0] == BOGUS and f[3] == "A"
                and f[4] == BOGUS_SIGNED_A):
            lines[i] = line.replace(BOGUS_SIGNED_A, BOGUS_SERVED_A)
            hits += 1
    assert hits == 1, "bogus A record not found in %s" % zone.signed
    zone.signed.write_text("\n".join(lines) + "\n")


class SignedZones:
    def __init__(self, directory):
        self.dir = Path(directory)
        self.nsec = _sign(self.dir, ZONE, nsec3=False)
        self.nsec3 = _sign(self.dir, NSEC3_ZONE, nsec3=True)
        _corrupt_bogus(self.nsec)
        self.zones = [self.nsec, self.nsec3]

    def ds_file(self):
        """A trust-anchor file (DS records) for unbound."""
        path = self.dir / "anchors.ds"
        path.write_text("".join(z.ksk_ds.read_text() for z in self.zones))
        return path

    def delv_anchor(self, zone):
        """A delv -a file: trust-anchors { zone static-key ... };"""
        owner, flags, proto, alg, key = zone.dnskey_fields()
        path = self.dir / ("delv-%s.conf" % owner.rstrip("."))
        path.write_text('trust-anchors {\n  "%s" static-key %s %s %s "%s";'
                        '\n};\n' % (owner, flags, proto, alg, key))
        return path


def build_signed_zones(directory):
    return SignedZones(directory)


def wait_answering(port, qname, proc, what, outfile, rdtype="SOA",
                   timeout=READY_TIMEOUT):
    """Waits until 127.0.0.1:port answers a query for qname (any rcode)."""
    wire = dns.message.make_query(qname, rdtype).to_wire()
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.1)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("%s exited with %d at start:\n%s" % (
                    what, proc.returncode, tail(outfile)))
            s.sendto(wire, ("127.0.0.1", port))
            try:
                s.recvfrom(65535)
                return
            except (socket.timeout, ConnectionRefusedError):
                pass
    stop_pid(proc)
    raise RuntimeError("%s did not answer within %.0fs:\n%s" % (
        what, timeout, tail(outfile)))


class Server:
    """A server process started by Popen, stopped by PID."""

    label = "server"

    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port(("127.0.0.1",))
        self.outfile = self.workdir / ("%s.out" % self.label)
        self.proc = None

    @property
    def server(self):
        return "127.0.0.1:%d" % self.port

    def _spawn(self, args):
        with open(self.outfile, "ab") as out:
            self.proc = subprocess.Popen(args, stdout=out,
                                         stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL,
                                         cwd=self.workdir)

    def stop(self):
        if self.proc is not None:
            stop_pid(self.proc)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def output(self):
        return tail(self.outfile)


class Nsd(Server):
    label = "nsd"

    def __init__(self, workdir, zones):
        super().__init__(workdir)
        w = self.workdir
        conf = ["server:",
                "  ip-address: 127.0.0.1@%d" % self.port,
                "  port: %d" % self.port,
                "  do-ip6: no",
                '  username: ""',
                '  chroot: ""',
                '  zonesdir: "%s"' % w,
                '  pidfile: "%s"' % (w / "nsd.pid"),
                '  database: ""',
                '  xfrdfile: "%s"' % (w / "xfrd.state"),
                '  zonelistfile: "%s"' % (w / "zone.list"),
                '  xfrdir: "%s"' % w,
                "  server-count: 1",
                "  verbosity: 1",
                "  hide-version: yes",
                "remote-control:",
                "  control-enable: no"]
        for z in zones.zones:
            conf += ["zone:", "  name: %s" % z.origin,
                     '  zonefile: "%s"' % z.signed]
        self.conf = w / "nsd.conf"
        self.conf.write_text("\n".join(conf) + "\n")

    def start(self):
        self._spawn([NSD, "-d", "-c", str(self.conf)])
        wait_answering(self.port, ZONE, self.proc, "nsd", self.outfile)
        return self


class Unbound(Server):
    """validating=True: validator + iterator with the zones' DS records as
    trust anchors; else iterator only (no validation).  Either way every
    name is forwarded to the NSD (forward-zone ".")."""

    label = "unbound"

    def __init__(self, workdir, nsd, zones=None, validating=False,
                 extra=()):
        super().__init__(workdir)
        w = self.workdir
        conf = ["server:",
                "  interface: 127.0.0.1@%d" % self.port,
                "  port: %d" % self.port,
                "  do-ip6: no",
                '  username: ""',
                '  chroot: ""',
                '  directory: "%s"' % w,
                '  pidfile: "%s"' % (w / "unbound.pid"),
                "  use-syslog: no",
                '  logfile: ""',
                "  verbosity: 1",
                "  num-threads: 1",
                "  do-not-query-localhost: no",
                "  qname-minimisation: no",
                '  local-zone: "test." nodefault',
                "  val-log-level: 1"]
        if validating:
            conf += ['  module-config: "validator iterator"',
                     '  trust-anchor-file: "%s"' % zones.ds_file()]
        else:
            conf += ['  module-config: "iterator"']
        conf += ["  " + line for line in extra]
        conf += ["remote-control:", "  control-enable: no",
                 "forward-zone:", '  name: "."',
                 "  forward-addr: 127.0.0.1@%d" % nsd.port]
        self.conf = w / "unbound.conf"
        self.conf.write_text("\n".join(conf) + "\n")

    def start(self):
        self._spawn([UNBOUND, "-d", "-c", str(self.conf)])
        wait_answering(self.port, ZONE, self.proc, "unbound", self.outfile)
        return self


# Module-scoped fixtures for the test modules that import them.

@pytest.fixture(scope="module")
def zones(tmp_path_factory):
    return build_signed_zones(tmp_path_factory.mktemp("zones"))


@pytest.fixture(scope="module")
def nsd(tmp_path_factory, zones):
    s = Nsd(tmp_path_factory.mktemp("nsd"), zones)
    try:
        s.start()
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def validator(tmp_path_factory, zones, nsd):
    """A validating Unbound forwarding to the NSD."""
    s = Unbound(tmp_path_factory.mktemp("validator"), nsd, zones,
                validating=True)
    try:
        s.start()
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    yield s
    s.stop()
