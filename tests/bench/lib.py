"""
Helpers shared by cordon's benchmarks (tests/bench/run-*).

Everything here talks to 127.0.0.1 only.  Servers are started as child
processes pinned with taskset, stopped by their own PID, and measured from
/proc: CPU time (utime+stime of all threads, /proc/PID/stat) and memory
(VmRSS/VmHWM, /proc/PID/status).  Load comes from dnsperf.

Main pieces:
  gen_names(n, seed)                   deterministic synthetic registrable names
  write_lists(names, dir)              domains + sources.ini, unbound, dnsmasq, dnsdist
  write_blocked_queries / write_allowed_queries
  start_upstream / start_cordond / start_unbound / start_dnsmasq / start_dnsdist
                                       -> Server (pid, port, stop())
  cpu_seconds(pid), mem_kb(pid)        /proc readers
  run_dnsperf(...)                     runs dnsperf pinned, parses its statistics
  measure(server, qfile, ...)          one dnsperf run with server CPU before/after
  dns_query / wait_for_rcode           a tiny stdlib-only DNS client
  median, fmt_num, ratio               for reports

Uses only the Python standard library (Debian's /usr/bin/python3).
"""

import os
import random
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(BENCH_DIR, "..", ".."))
OUT_DIR = os.path.join(BENCH_DIR, "out")
WORK_DIR = os.path.join(BENCH_DIR, "work")

CLK_TCK = os.sysconf("SC_CLK_TCK")

SERVER_CPU = "0"    # CPU the server under test is pinned to
LOAD_CPU = "1"      # CPU dnsperf (and this harness, and the upstream) use


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr,
          flush=True)


# ---------------------------------------------------------------- packages

def ensure_packages(binaries):
    """binaries: {path-or-command: debian-package}.  Installs with apt-get
    only what is missing.  Returns the list of packages that could not be
    installed (empty on success)."""
    missing = sorted({pkg for b, pkg in binaries.items()
                      if not (os.path.exists(b) or shutil.which(b))})
    if not missing:
        return []
    log("installing missing packages: %s" % " ".join(missing))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    r = subprocess.run(["apt-get", "install", "-y"] + missing, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if r.returncode != 0:
        subprocess.run(["apt-get", "update"], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        r = subprocess.run(["apt-get", "install", "-y"] + missing, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return [pkg for b, pkg in binaries.items()
            if not (os.path.exists(b) or shutil.which(b))]


# ---------------------------------------------------------------- names

_ONSETS = ("b c d f g h j k l m n p r s t v w z br cr dr fl gr kr pl pr st "
           "tr ch sh th bl cl gl sl sp").split()
_NUCLEI = "a e i o u a e i o ai ea io ou".split()
_CODAS = ["", "", "", "", "n", "r", "x", "s", "t", "m", "k", "l"]
_TLDS = [("com", 44), ("net", 8), ("org", 5), ("io", 6), ("co", 3),
         ("xyz", 5), ("top", 4), ("info", 4), ("biz", 2), ("cc", 3),
         ("vip", 3), ("pro", 2), ("online", 3), ("site", 3), ("club", 2),
         ("exchange", 2), ("finance", 2), ("app", 2), ("me", 2),
         ("co.uk", 2), ("com.au", 1)]
_HOSTS = ["www", "app", "m", "trade", "api", "login", "pay", "wallet"]
_TAILS = ["ex", "coin", "pay", "bit", "chain", "trade", "swap", "fx",
          "cash", "bet", "token", "dex", "otc", "hub", "pro", "global"]


def _word(rng, lo=2, hi=4):
    n = rng.randint(lo, hi)
    w = "".join(rng.choice(_ONSETS) + rng.choice(_NUCLEI) for _ in range(n))
    return w + rng.choice(_CODAS)


def _label(rng):
    r = rng.random()
    if r < 0.30:
        return _word(rng) + str(rng.randint(1, 999))          # kratobex42
    if r < 0.50:
        return _word(rng, 1, 3) + "-" + rng.choice(_TAILS)     # zora-coin
    if r < 0.75:
        return _word(rng, 1, 2) + rng.choice(_TAILS)           # vexichain
    if r < 0.90:
        return _word(rng, 2, 5)                                # plimaroset
    return _word(rng, 1, 2) + "-" + _word(rng, 1, 3)           # dora-kliven


def gen_names(n, seed=2):
    """n distinct lower-case names like 'kratobex42.com', 'zora-coin.io',
    'app.vexichain.xyz' (about 5% carry a host label, as real lists do).
    Same n and seed: same names, same order."""
    rng = random.Random(seed)
    tlds = [t for t, _ in _TLDS]
    weights = [w for _, w in _TLDS]
    seen = set()
    out = []
    while len(out) < n:
        name = _label(rng) + "." + rng.choices(tlds, weights)[0]
        if rng.random() < 0.05:
            name = rng.choice(_HOSTS) + "." + name
        if len(name) > 60 or name in seen:
            continue
        seen.add(name)
        out.append(name)
    return out


def write_lists(names, d, list_name="bench", category="bench"):
    """Writes the blocklist in every form the peers need; returns a dict of
    paths: domains, manifest, unbound, dnsmasq, dnsdist."""
    os.makedirs(d, exist_ok=True)
    p = {k: os.path.join(d, f) for k, f in (
        ("domains", list_name + ".domains"),
        ("manifest", "sources.ini"),
        ("unbound", "unbound-localzones.conf"),
        ("dnsmasq", "dnsmasq-block.conf"),
        ("dnsdist", "dnsdist-block.txt"))}
    with open(p["domains"], "w") as f:
        f.write("# synthetic benchmark blocklist: %d names\n" % len(names))
        f.writelines(n + "\n" for n in names)
    with open(p["manifest"], "w") as f:
        f.write("[source %s]\nfile = %s\nformat = domains\ncategory = %s\n"
                "kind = block\n" % (list_name, os.path.basename(p["domains"]),
                                    category))
    with open(p["unbound"], "w") as f:
        f.writelines('local-zone: "%s." always_nxdomain\n' % n for n in names)
    with open(p["dnsmasq"], "w") as f:
        f.writelines("address=/%s/\n" % n for n in names)
    with open(p["dnsdist"], "w") as f:
        f.writelines(n + "\n" for n in names)
    return p


def write_blocked_queries(names, path, seed=2, sub_fraction=0.5):
    """One query per listed name, type A: a share sub_fraction as a
    subdomain ('www.<name>', 'api.<name>', ...), the rest the bare name;
    shuffled.  Returns the number of lines."""
    rng = random.Random(seed * 7919 + 1)
    subs = ["www", "api", "m", "cdn", "static", "login", "mail", "img"]
    qs = []
    for n in names:
        if rng.random() < sub_fraction:
            qs.append(rng.choice(subs) + "." + n)
        else:
            qs.append(n)
    rng.shuffle(qs)
    with open(path, "w") as f:
        f.writelines(q + " A\n" for q in qs)
    return len(qs)


def allowed_names(count, zone="bench.test", seed=2):
    rng = random.Random(seed * 104729 + 3)
    out, seen = [], set()
    while len(out) < count:
        w = _word(rng, 1, 3)
        name = "%s.%s" % (w, zone) if rng.random() < 0.5 else \
            "%s.%s.%s" % (rng.choice(["www", "mail", "api", "cdn"]), w, zone)
        if name not in seen:
            seen.add(name)
            out.append(name)
    return out


def write_queries(names, path, qtype="A"):
    with open(path, "w") as f:
        f.writelines("%s %s\n" % (n, qtype) for n in names)
    return len(names)


# ---------------------------------------------------------------- /proc

def cpu_seconds(pid):
    """utime+stime of the whole process (all threads), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    # fields[0] is state (field 3); utime is field 14, stime field 15
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def mem_kb(pid):
    """{'VmRSS': kB, 'VmHWM': kB} from /proc/PID/status."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])
    return out


def cpu_times(cpu):
    """Jiffies of one CPU from /proc/stat: {'busy', 'idle', 'steal', 'total'}.
    Steal is time the hypervisor gave this virtual CPU to someone else."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu%s " % cpu):
                v = [int(x) for x in line.split()[1:]]
                idle = v[3] + v[4]
                steal = v[7] if len(v) > 7 else 0
                total = sum(v[:8])
                return {"busy": total - idle - steal, "idle": idle,
                        "steal": steal, "total": total}
    return None


def wait_idle(pid, quiet=0.3, limit=10.0):
    """Waits until the process used no CPU for `quiet` seconds (so work it
    queued, like a log writer thread, is counted), at most `limit`."""
    end = time.monotonic() + limit
    last = cpu_seconds(pid)
    while time.monotonic() < end:
        time.sleep(quiet)
        now = cpu_seconds(pid)
        if now == last:
            return
        last = now


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()
    raise RuntimeError("no free port")


# ---------------------------------------------------------------- DNS client

RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN",
          4: "NOTIMP", 5: "REFUSED"}


def _qwire(qid, name, qtype=1):
    q = b"".join(bytes([len(l)]) + l.encode() for l in name.strip(".").split("."))
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q + b"\0" + \
        struct.pack("!HH", qtype, 1)


def dns_query(port, name, qtype=1, timeout=1.0, host="127.0.0.1"):
    """One UDP query.  Returns (rcode name, answer count, first A address
    or None) or None on timeout."""
    qid = random.randint(0, 65535)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.settimeout(timeout)
        s.sendto(_qwire(qid, name, qtype), (host, port))
        end = time.monotonic() + timeout
        while True:
            s.settimeout(max(0.001, end - time.monotonic()))
            data, _ = s.recvfrom(4096)
            if len(data) >= 12 and struct.unpack("!H", data[:2])[0] == qid:
                break
    except (socket.timeout, ConnectionRefusedError, OSError):
        return None
    finally:
        s.close()
    flags, qd, an = struct.unpack("!HHH", data[2:8])
    addr = None
    if an:
        try:
            i = 12
            for _ in range(qd):
                while data[i]:
                    i += 1 + data[i]
                i += 5
            # first answer: name (maybe a pointer), type, class, ttl, rdlen
            if data[i] & 0xC0 == 0xC0:
                i += 2
            else:
                while data[i]:
                    i += 1 + data[i]
                i += 1
            t, _, _, rdlen = struct.unpack("!HHIH", data[i:i + 10])
            if t == 1 and rdlen == 4:
                addr = socket.inet_ntoa(data[i + 10:i + 14])
        except (IndexError, struct.error):
            pass
    return RCODES.get(flags & 0xF, str(flags & 0xF)), an, addr


def wait_for_rcode(port, name, want, deadline, proc=None, interval=0.002):
    """Polls until `name` gets rcode `want`.  Returns (seconds waited from
    now, first other answer seen or None); raises if the process died or the
    deadline (monotonic) passed."""
    t0 = time.monotonic()
    other = None
    while True:
        r = dns_query(port, name, timeout=0.05)
        if r is not None:
            if r[0] == want:
                return time.monotonic() - t0, other
            if other is None:
                other = r[0]
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("exited with status %s" % proc.returncode)
        if time.monotonic() > deadline:
            raise RuntimeError("no %s for %s within the deadline (saw %s)"
                               % (want, name, other))
        time.sleep(interval)


# ---------------------------------------------------------------- servers

class Server:
    """A child process serving DNS on 127.0.0.1:port."""

    def __init__(self, name, argv, port, workdir, cpu=SERVER_CPU, env=None):
        self.name = name
        self.port = port
        self.workdir = workdir
        self.argv = (["taskset", "-c", cpu] if cpu is not None else []) + argv
        self.stderr_path = os.path.join(workdir, "%s.stderr" % name)
        self.proc = None
        self.started_at = None
        self.env = env

    @property
    def pid(self):
        return self.proc.pid

    def start(self):
        self.started_at = time.monotonic()
        # taskset execs the server: the child's PID is the server's PID
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.DEVNULL,
            stdout=open(self.stderr_path, "ab"), stderr=subprocess.STDOUT,
            cwd=self.workdir, env=self.env, start_new_session=True)
        return self

    def wait_ready(self, probe_name, want="NXDOMAIN", timeout=120.0):
        """Seconds from start() to the first `want` answer for probe_name;
        records what it answered before that in self.first_other."""
        waited, self.first_other = wait_for_rcode(
            self.port, probe_name, want, self.started_at + timeout,
            proc=self.proc)
        self.startup_s = time.monotonic() - self.started_at
        return self.startup_s

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10.0):
        """SIGTERM to our child's PID, SIGKILL after timeout.  Returns the
        exit status (negative: killed by that signal)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode

    def stderr_tail(self, n=20):
        try:
            with open(self.stderr_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""


def start_upstream(port, workdir, zone="bench.test", addr="192.0.2.1",
                   ttl=3600):
    """dnsmasq answering every name under `zone` with `addr` (TTL `ttl`),
    nothing else; on the load CPU (it is idle while measuring)."""
    argv = ["dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
            "--conf-file=/dev/null", "--pid-file=", "--user=root",
            "--listen-address=127.0.0.1", "--bind-interfaces",
            "--port=%d" % port, "--address=/%s/%s" % (zone, addr),
            "--local-ttl=%d" % ttl, "--cache-size=0"]
    s = Server("upstream", argv, port, workdir, cpu=LOAD_CPU).start()
    s.wait_ready("probe." + zone, want="NOERROR", timeout=10)
    return s


def cordond_conf(path, port, upport, manifest, blocked_log, workdir,
                 threads=1, cache_size=100000, action="nxdomain", extra=""):
    ctl_port = free_port()
    with open(path, "w") as f:
        f.write(f"""; written by tests/bench/lib.py
[server]
listen = 127.0.0.1:{port}
threads = {threads}
allow = 127.0.0.0/8

[upstream]
servers = 127.0.0.1:{upport}
cache_size = {cache_size}

[policy]
lists = {manifest}
action = {action}

[log]
blocked = {blocked_log if blocked_log else ""}
; dnsperf is one client: write every line, so the log's cost is measured
client_rate = 0

[control]
http = 127.0.0.1:{ctl_port}
socket = {os.path.join(workdir, "cordond-%d.sock" % port)}
{extra}""")
    return path


def start_cordond(binary, port, upport, manifest, workdir, blocked_log=None,
                  name="cordond", **kw):
    conf = cordond_conf(os.path.join(workdir, "%s-%d.conf" % (name, port)),
                        port, upport, manifest, blocked_log, workdir, **kw)
    s = Server(name, [binary, "-f", "-c", conf], port, workdir)
    s.conf = conf
    s.blocked_log = blocked_log
    return s.start()


def check_cordond_conf(binary, conf):
    """cordond -t: (exit status, output)."""
    r = subprocess.run([binary, "-t", "-c", conf], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120)
    return r.returncode, r.stdout.decode(errors="replace")


def start_unbound(port, upport, localzones, workdir, name="unbound",
                  log_local=False):
    conf = os.path.join(workdir, "%s-%d.conf" % (name, port))
    with open(conf, "w") as f:
        f.write(f"""# written by tests/bench/lib.py
server:
    num-threads: 1
    do-daemonize: no
    interface: 127.0.0.1@{port}
    port: {port}
    access-control: 127.0.0.0/8 allow
    do-ip6: no
    chroot: ""
    username: ""
    directory: "{workdir}"
    pidfile: ""
    use-syslog: no
    logfile: "{os.path.join(workdir, name + '-%d.log' % port)}"
    verbosity: 0
    log-local-actions: {"yes" if log_local else "no"}
    do-not-query-localhost: no
    so-reuseport: no
    module-config: "iterator"
    msg-cache-size: 64m
    rrset-cache-size: 128m
    num-queries-per-thread: 4096
    outgoing-range: 8192
    so-rcvbuf: 0
    local-zone: "test." nodefault
    include: "{localzones}"

forward-zone:
    name: "."
    forward-addr: 127.0.0.1@{upport}

remote-control:
    control-enable: no
""")
    s = Server(name, ["unbound", "-d", "-c", conf], port, workdir)
    s.conf = conf
    return s.start()


def start_dnsmasq(port, upport, blockconf, workdir, name="dnsmasq",
                  cache_size=10000):
    argv = ["dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
            "--conf-file=" + blockconf, "--pid-file=", "--user=root",
            "--listen-address=127.0.0.1", "--bind-interfaces",
            "--port=%d" % port, "--server=127.0.0.1#%d" % upport,
            "--cache-size=%d" % cache_size, "--dns-forward-max=1000"]
    return Server(name, argv, port, workdir).start()


def start_dnsdist(port, upport, namesfile, workdir, name="dnsdist",
                  cache_size=100000):
    """dnsdist as a filtering forwarder: a SuffixMatchNode of the listed
    names answered NXDOMAIN, a packet cache in front of the upstream."""
    conf = os.path.join(workdir, "%s-%d.lua" % (name, port))
    with open(conf, "w") as f:
        f.write(f"""-- written by tests/bench/lib.py
setSecurityPollSuffix("")  -- no status query to the system resolver
setLocal("127.0.0.1:{port}")
setACL({{"127.0.0.0/8"}})
newServer({{address="127.0.0.1:{upport}", name="up", healthCheckMode="up"}})
pc = newPacketCache({cache_size}, {{maxTTL=86400}})
getPool(""):setCache(pc)
smn = newSuffixMatchNode()
for line in io.lines("{namesfile}") do smn:add(newDNSName(line)) end
addAction(SuffixMatchNodeRule(smn, true), RCodeAction(DNSRCode.NXDOMAIN))
""")
    s = Server(name, ["dnsdist", "--supervised", "--disable-syslog", "-C", conf],
               port, workdir)
    s.conf = conf
    return s.start()


# ---------------------------------------------------------------- dnsperf

_DP_PATTERNS = {
    "sent": r"Queries sent:\s+(\d+)",
    "completed": r"Queries completed:\s+(\d+)",
    "lost": r"Queries lost:\s+(\d+)",
    "interrupted": r"Queries interrupted:\s+(\d+)",
    "run_time": r"Run time \(s\):\s+([\d.]+)",
    "qps": r"Queries per second:\s+([\d.]+)",
    "latency_avg": r"Average Latency \(s\):\s+([\d.]+)",
    "latency_sd": r"Latency StdDev \(s\):\s+([\d.]+)",
}


def parse_dnsperf(text):
    r = {}
    for k, pat in _DP_PATTERNS.items():
        m = re.search(pat, text)
        r[k] = float(m.group(1)) if m else None
    m = re.search(r"Response codes:\s+(.*)", text)
    r["rcodes"] = {}
    if m:
        for code, n in re.findall(r"([A-Z]+)\s+(\d+)", m.group(1)):
            r["rcodes"][code] = int(n)
    return r


def run_dnsperf(port, qfile, seconds=10, clients=8, outstanding=200,
                timeout=2, threads=1, edns=False, maxruns=None, qps_limit=None,
                cpu=LOAD_CPU, extra=()):
    """Runs dnsperf against 127.0.0.1:port, pinned to `cpu`.  Returns the
    parsed statistics plus 'raw' (its output) and 'wall' (seconds)."""
    argv = ["taskset", "-c", cpu, "dnsperf", "-s", "127.0.0.1",
            "-p", str(port), "-d", qfile, "-c", str(clients),
            "-q", str(outstanding), "-t", str(timeout), "-T", str(threads)]
    if seconds:
        argv += ["-l", str(seconds)]
    if maxruns:
        argv += ["-n", str(maxruns)]
    if qps_limit:
        argv += ["-Q", str(qps_limit)]
    if edns:
        argv += ["-e"]
    argv += list(extra)
    t0 = time.monotonic()
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=(seconds or 60) + timeout + 60)
    wall = time.monotonic() - t0
    text = p.stdout.decode(errors="replace")
    r = parse_dnsperf(text)
    r["raw"] = text
    r["wall"] = wall
    r["status"] = p.returncode
    if p.returncode != 0 or r["completed"] is None:
        raise RuntimeError("dnsperf failed (%s): %s" % (p.returncode, text[-800:]))
    return r


def measure(server, qfile, **dp):
    """One measured dnsperf run against a running server.  Returns a dict
    with dnsperf's figures, the server's CPU seconds over the run and
    answers per CPU-second, its memory after the run, and how busy the
    server's CPU was with anything else meanwhile (noise)."""
    pid = server.pid
    wait_idle(pid, quiet=0.2, limit=5)
    mem0 = mem_kb(pid)
    s0 = cpu_times(SERVER_CPU)
    c0 = cpu_seconds(pid)
    t0 = time.monotonic()
    r = run_dnsperf(server.port, qfile, **dp)
    wait_idle(pid, quiet=0.3, limit=10)     # count deferred work (log writer)
    c1 = cpu_seconds(pid)
    s1 = cpu_times(SERVER_CPU)
    t1 = time.monotonic()
    mem1 = mem_kb(pid)
    cpu = c1 - c0
    span = t1 - t0
    r.update({
        "cpu_s": cpu,
        "cpu_util": cpu / r["run_time"] if r["run_time"] else None,
        "answers_per_cpu_s": r["completed"] / cpu if cpu > 0 else None,
        "rss_before_kb": mem0.get("VmRSS"),
        "rss_after_kb": mem1.get("VmRSS"),
        "hwm_after_kb": mem1.get("VmHWM"),
        "span_s": span,
        # share of the server CPU's time the hypervisor reports as stolen
        "cpu0_steal_pct": 100.0 * (s1["steal"] - s0["steal"]) /
        max(1, s1["total"] - s0["total"]) if s0 and s1 else None,
        # CPU 0 busy time not charged to the server, over the same span:
        # other processes on the machine, interrupts charged to no process
        "cpu0_other_pct": 100.0 * max(0.0, (s1["busy"] - s0["busy"]) / CLK_TCK
                                      - cpu) / span if s0 and s1 else None,
    })
    return r


def prime(port, names, qtype=1, tries=3):
    """Asks each name once (sequentially) so it lands in the server's cache.
    Returns {rcode: count}."""
    counts = {}
    for n in names:
        r = None
        for _ in range(tries):
            r = dns_query(port, n, qtype, timeout=1.0)
            if r is not None:
                break
        k = r[0] if r else "TIMEOUT"
        counts[k] = counts.get(k, 0) + 1
    return counts


def count_lines(path):
    n = 0
    try:
        with open(path, "rb") as f:
            while True:
                b = f.read(1 << 22)
                if not b:
                    break
                n += b.count(b"\n")
    except FileNotFoundError:
        return None
    return n


# ---------------------------------------------------------------- reports

def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_num(x, digits=0):
    if x is None:
        return "–"
    if isinstance(x, float) and digits:
        return "{:,.{d}f}".format(x, d=digits)
    return "{:,.0f}".format(x)


def fmt_ratio(x):
    return "–" if x is None else "%.2f×" % x


# ---------------------------------------------------------------- added for run-issue3

def mem_status(pid):
    """Every memory field of /proc/PID/status in kB (VmRSS, VmHWM, RssAnon,
    RssFile, RssShmem, VmData, ...)."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            v = v.split()
            if len(v) == 2 and v[1] == "kB":
                out[k] = int(v[0])
    return out


def mapping_rss_kb(pid, suffix):
    """Resident kB of the mappings of files whose path ends with `suffix`
    (e.g. 'policy.cpol'), from /proc/PID/smaps; 0 when none is mapped."""
    total, cur = 0, False
    try:
        with open("/proc/%d/smaps" % pid) as f:
            for line in f:
                first = line.split(None, 1)[0]
                if "-" in first and not first.endswith(":"):
                    # a mapping header: "lo-hi perms offset dev inode [path]"
                    parts = line.split()
                    cur = len(parts) >= 6 and parts[5].endswith(suffix)
                elif cur and first == "Rss:":
                    total += int(line.split()[1])
    except OSError:
        return None
    return total


def poll_answer(port, name, want, deadline, proc=None, interval=0.001,
                qtype=1):
    """Like wait_for_rcode but with 1 ms resolution: one connected UDP
    socket sends a query every `interval` (an ICMP port-unreachable comes
    back at once as ECONNREFUSED while nothing listens) and any answer to
    any query it sent counts.  Returns the monotonic time of the first
    answer with rcode `want`, and the first other rcode seen (or None)."""
    import select
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(("127.0.0.1", port))
    sent = set()
    other = None
    qid = random.randint(0, 65535)
    try:
        while True:
            qid = (qid + 1) & 0xFFFF
            sent.add(qid)
            try:
                s.send(_qwire(qid, name, qtype))
            except ConnectionRefusedError:
                pass
            end = time.monotonic() + interval
            while True:
                left = end - time.monotonic()
                if left <= 0:
                    break
                r, _, _ = select.select([s], [], [], left)
                if not r:
                    break
                try:
                    data = s.recv(4096)
                except ConnectionRefusedError:
                    continue        # nothing listening yet
                if len(data) < 12 or struct.unpack("!H", data[:2])[0] not in sent:
                    continue
                rc = RCODES.get(data[3] & 0xF, str(data[3] & 0xF))
                if rc == want:
                    return time.monotonic(), other
                if other is None:
                    other = rc
            if proc is not None and proc.poll() is not None:
                raise RuntimeError("exited with status %s" % proc.returncode)
            if time.monotonic() > deadline:
                raise RuntimeError("no %s for %s within the deadline (saw %s)"
                                   % (want, name, other))
    finally:
        s.close()


def wait_ready_fast(server, probe_name, want="NXDOMAIN", timeout=120.0):
    """Server.wait_ready with poll_answer (1 ms polling): seconds from
    server.start() to the first `want` answer; also sets server.startup_s
    and server.first_other."""
    t, server.first_other = poll_answer(
        server.port, probe_name, want, server.started_at + timeout,
        proc=server.proc)
    server.startup_s = t - server.started_at
    return server.startup_s


def run_timed(argv, cwd=None, stdout=None, poll=0.005):
    """Runs argv to completion.  Returns {'status', 'wall_s', 'cpu_s'
    (user+system of the process and the children it waited for, from
    wait4), 'user_s', 'sys_s', 'peak_kb' (the largest VmHWM read from
    /proc every `poll` seconds while it ran: wait4's ru_maxrss would report
    this harness's own size, which a forked child inherits), 'output'
    (stdout+stderr, unless stdout is given)}."""
    import tempfile
    tmp = None
    if stdout is None:
        tmp = tempfile.TemporaryFile()
        out = tmp
    else:
        out = stdout
    t0 = time.monotonic()
    p = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                         stderr=subprocess.STDOUT)
    peak = 0
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid == p.pid:
            break
        try:
            with open("/proc/%d/status" % p.pid) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
                        break
        except OSError:
            pass
        time.sleep(poll)
    wall = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    text = b""
    if tmp is not None:
        tmp.seek(0)
        text = tmp.read()
        tmp.close()
    return {"status": p.returncode, "wall_s": wall,
            "cpu_s": ru.ru_utime + ru.ru_stime, "user_s": ru.ru_utime,
            "sys_s": ru.ru_stime, "peak_kb": peak or None,
            "output": text.decode(errors="replace")}


# ---------------------------------------------------------------- added for run-issue4 / run-issue5
# (tests/bench/run-issue4 and run-issue5 use everything below: keep it when
# editing this file)

def start_stub_upstream(port, workdir, name="stub-upstream"):
    """tests/system/upstream.py (dnspython, from the system tests) on the
    load CPU: answers "a-W-X-Y-Z.<anything>" with A W.X.Y.Z, "cname" names
    with a CNAME to target.test., "ttlN" sets the TTL (see its docstring).
    Slow (Python), so only for priming caches.  Its query log is
    server.query_log (one line per query it saw)."""
    qlog = os.path.join(workdir, name + ".queries")
    argv = ["/usr/bin/python3", os.path.join(REPO, "tests", "system",
                                             "upstream.py"),
            "--port", str(port), "--log", qlog]
    s = Server(name, argv, port, workdir, cpu=LOAD_CPU).start()
    s.query_log = qlog
    s.wait_ready("probe.test", want="NOERROR", timeout=30)
    return s


def start_unbound_rc(port, upport, localzones, workdir, name="unbound",
                     extra=""):
    """Unbound as start_unbound() sets it up, plus remote control on a
    unix socket without certificates (control-use-cert: no), for
    `unbound-control reload`.  server.ctl(args...) runs unbound-control
    with a config holding only the remote-control section."""
    conf = os.path.join(workdir, "%s-%d.conf" % (name, port))
    sock = os.path.join(workdir, "%s-%d.ctl" % (name, port))
    with open(conf, "w") as f:
        f.write(f"""# written by tests/bench/lib.py (start_unbound_rc)
server:
    num-threads: 1
    do-daemonize: no
    interface: 127.0.0.1@{port}
    port: {port}
    access-control: 127.0.0.0/8 allow
    do-ip6: no
    chroot: ""
    username: ""
    directory: "{workdir}"
    pidfile: ""
    use-syslog: no
    logfile: "{os.path.join(workdir, name + '-%d.log' % port)}"
    verbosity: 1
    do-not-query-localhost: no
    so-reuseport: no
    module-config: "iterator"
    msg-cache-size: 64m
    rrset-cache-size: 128m
    num-queries-per-thread: 4096
    outgoing-range: 8192
    so-rcvbuf: 0
    local-zone: "test." nodefault
    include: "{localzones}"
{extra}
forward-zone:
    name: "."
    forward-addr: 127.0.0.1@{upport}

remote-control:
    control-enable: yes
    control-interface: "{sock}"
    control-use-cert: no
""")
    # unbound-control reads the whole config it is given, includes too: a
    # million local-zone lines take it seconds of CPU before it connects.
    # It only needs the remote-control section.
    ctl_conf = os.path.join(workdir, "%s-%d-control.conf" % (name, port))
    with open(ctl_conf, "w") as f:
        f.write('remote-control:\n    control-enable: yes\n'
                '    control-interface: "%s"\n    control-use-cert: no\n' % sock)
    s = Server(name, ["unbound", "-d", "-c", conf], port, workdir)
    s.conf = conf
    s.ctl_sock = sock
    s.ctl_conf = ctl_conf

    def ctl(*args, timeout=120):
        r = subprocess.run(["unbound-control", "-c", ctl_conf] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
        return r.returncode, r.stdout.decode(errors="replace")
    s.ctl = ctl
    return s.start()


def reset_hwm(pid):
    """Resets the process's peak RSS (VmHWM) to its current RSS
    (`echo 5 > /proc/PID/clear_refs`, Linux >= 4.0).  True when it worked."""
    try:
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class MemSampler:
    """Samples VmRSS of a process every `interval` seconds in a thread:
    .samples is a list of (monotonic time, kB); .peak() the largest."""

    def __init__(self, pid, interval=0.01):
        import threading
        self.pid, self.interval = pid, interval
        self.samples = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                m = mem_kb(self.pid)
            except OSError:
                return
            self.samples.append((time.monotonic(), m.get("VmRSS")))
            self._stop.wait(self.interval)

    def start(self):
        self._t.start()
        return self

    def stop(self):
        self._stop.set()
        self._t.join(2)
        return self

    def peak(self, t0=None, t1=None):
        xs = [kb for t, kb in self.samples if kb is not None and
              (t0 is None or t >= t0) and (t1 is None or t <= t1)]
        return max(xs) if xs else None


def parse_dnsperf_intervals(text):
    """dnsperf -S N prints "EPOCH.USEC: RATE" lines (wall-clock time at the
    end of each interval, responses per second over it).  Returns a list
    of (epoch seconds, rate)."""
    return [(float(t), float(r)) for t, r in
            re.findall(r"^(\d{9,}\.\d+): ([\d.]+)\s*$", text, re.M)]


def percentile(xs, p):
    """Nearest-rank percentile (p in 0..100) of the non-None values."""
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    k = max(0, min(len(xs) - 1, int(-(-p * len(xs) // 100)) - 1))
    return xs[k]


def _udp_probe(port, names, interval, duration, timeout, start_at, conn,
               stop_on=None, stop_after=2.0):
    import select
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    wires = [_qwire(0, n)[2:] for n in names]
    pending = {}                 # qid -> row index
    t_send, t_recv, rcode, which = [], [], [], []
    while time.monotonic() < start_at:
        time.sleep(min(0.01, max(0.0, start_at - time.monotonic())))
    t0 = time.monotonic()
    end = t0 + duration
    nxt = t0
    i = 0
    qid = random.randint(0, 65535)
    first_stop = None
    while True:
        now = time.monotonic()
        if first_stop is not None and now < end and \
                now > first_stop + stop_after:
            end = now            # stop_after s after the first stop_on answer
        if now >= nxt and now < end:
            qid = (qid + 1) & 0xFFFF
            k = i % len(wires)
            old = pending.pop(qid, None)         # 65536 in flight: forget
            try:
                s.send(struct.pack("!H", qid) + wires[k])
            except OSError:
                pass
            pending[qid] = len(t_send)
            t_send.append(now)
            t_recv.append(None)
            rcode.append(None)
            which.append(k)
            i += 1
            nxt += interval
            if nxt < now - 1.0:          # fell far behind: do not burst
                nxt = now
            continue
        if now >= end + timeout or (now >= end and not pending):
            break
        wait = max(0.0, min(nxt, end + timeout) - now) if now < end else \
            max(0.0, end + timeout - now)
        r, _, _ = select.select([s], [], [], min(wait, 0.05))
        if not r:
            continue
        while True:
            try:
                data = s.recv(4096)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break
            tr = time.monotonic()
            if len(data) < 12:
                continue
            j = pending.pop(struct.unpack("!H", data[:2])[0], None)
            if j is None:
                continue
            t_recv[j] = tr
            rcode[j] = RCODES.get(data[3] & 0xF, str(data[3] & 0xF))
            if first_stop is None and stop_on is not None and \
                    rcode[j] == stop_on:
                first_stop = tr
    s.close()
    # answers later than `timeout` count as lost
    for j in range(len(t_send)):
        if t_recv[j] is not None and t_recv[j] - t_send[j] > timeout:
            t_recv[j], rcode[j] = None, None
    conn.send((t_send, t_recv, rcode, which))
    conn.close()


class UdpProbe:
    """A paced UDP sender in its own process (pinned like this harness):
    every `interval` seconds from `start_at` (monotonic) for `duration`
    seconds it sends the next of `names` (type A, cycling) to
    127.0.0.1:port and records when the answer came back and its rcode.
    Answers after `timeout` count as lost.  .result() gives a list of
    (send time, receive time or None, rcode or None, name index), all
    times on this machine's CLOCK_MONOTONIC.  Used as a per-query latency
    sampler and, with one name and a 1 ms interval, as a verdict poller
    (stop_on="NXDOMAIN": stop stop_after seconds after the first such
    answer instead of at the end of `duration`)."""

    def __init__(self, port, names, interval, duration, timeout=1.0,
                 start_at=None, stop_on=None, stop_after=2.0):
        import multiprocessing
        ctx = multiprocessing.get_context("fork")
        self._rx, tx = ctx.Pipe(duplex=False)
        self._p = ctx.Process(target=_udp_probe, args=(
            port, list(names), interval, duration, timeout,
            start_at if start_at is not None else time.monotonic(), tx,
            stop_on, stop_after), daemon=True)
        self.duration, self.timeout = duration, timeout

    def start(self):
        self._p.start()
        return self

    def result(self, wait=None):
        wait = wait if wait is not None else self.duration + self.timeout + 30
        if not self._rx.poll(wait):
            self._p.terminate()
            raise RuntimeError("udp probe gave no result")
        t_send, t_recv, rcode, which = self._rx.recv()
        self._p.join(5)
        return list(zip(t_send, t_recv, rcode, which))


def compile_policy(cordon, manifest, outdir, timeout=1800):
    """cordon compile MANIFEST -o OUTDIR: returns run_timed()'s dict plus
    'cpol' (the path of OUTDIR/policy.cpol)."""
    os.makedirs(outdir, exist_ok=True)
    r = run_timed([cordon, "compile", manifest, "-o", outdir])
    r["cpol"] = os.path.join(outdir, "policy.cpol")
    if r["status"] != 0 or not os.path.exists(r["cpol"]):
        raise RuntimeError("cordon compile %s failed (%s): %s"
                           % (manifest, r["status"], r["output"][-600:]))
    return r


def replace_file(src, dst):
    """Installs a copy of src as dst by rename (cp src dst.tmp; mv), as an
    admin should: a process that mapped the old dst keeps a valid file."""
    tmp = dst + ".tmp"
    shutil.copyfile(src, tmp)
    os.rename(tmp, dst)


def http_get(port, path="/metrics", timeout=2.0):
    """GET http://127.0.0.1:port/path; the body as text, or None."""
    import urllib.request
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                    timeout=timeout) as r:
            return r.read().decode(errors="replace")
    except OSError:
        return None


def metric(text, name):
    """Sum of the samples of one metric (all label sets) in Prometheus
    text, or None when absent."""
    if not text:
        return None
    tot, seen = 0.0, False
    for line in text.splitlines():
        if line.startswith(name) and (len(line) > len(name) and
                                      line[len(name)] in " {"):
            try:
                tot += float(line.rsplit(None, 1)[1])
                seen = True
            except (ValueError, IndexError):
                pass
    return tot if seen else None


def cordond_control(server):
    """(http port, control socket path) from a config start_cordond wrote."""
    with open(server.conf) as f:
        text = f.read()
    m = re.search(r"^http = 127\.0\.0\.1:(\d+)", text, re.M)
    k = re.search(r"^socket = (.+)$", text, re.M)
    return (int(m.group(1)) if m else None,
            k.group(1).strip() if k else None)
