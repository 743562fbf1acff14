"""SIGKILL at a high blocked rate (issue 9): dnsperf sends blocked
queries at RATE/s, cordond is killed after KILL_AFTER seconds and
restarted; prints how many answers have no line and the gap lines that
cover them.  "answered" is dnsperf's count, which misses answers it gave
up on, so answered_without_line is an estimate (it can even go negative).

    /usr/bin/python3 tests/bench/audit-sigkill.py [RATE [SYNC [KILL_AFTER]]]
"""
import json, os, re, signal, subprocess, sys, time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "system"))
from conftest import build_conf, free_port

CORDOND = os.environ.get("CORDOND", str(HERE.parents[1] / "daemon" / "cordond"))
CORDON = os.environ.get("CORDON", str(HERE.parents[1] / "daemon" / "cordon"))
rate = int(sys.argv[1]) if len(sys.argv) > 1 else 30000
sync = sys.argv[2] if len(sys.argv) > 2 else "yes"
kill_after = float(sys.argv[3]) if len(sys.argv) > 3 else 3.0
w = Path(os.environ.get("TMPDIR", "/tmp")) / ("cordon-sigkill-%d-%s" % (rate, sync))
subprocess.run(["rm", "-rf", str(w)]); w.mkdir()
port = free_port()
conf = build_conf(w, port, "127.0.0.1:9", {"log": {"client_rate": "0", "sync": sync},
                                           "server": {"threads": "2"}})
qf = w / "queries.txt"
with open(qf, "w") as f:
    for i in range(400000):
        f.write("q%d.binance.com A\n" % i)
def start():
    p = subprocess.Popen([CORDOND, "-f", "-c", str(conf)], stdout=subprocess.DEVNULL,
                         stderr=open(w / "err", "ab"), cwd=w)
    time.sleep(0.7)
    return p
p = start()
dp = subprocess.Popen(["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", str(qf),
                       "-Q", str(rate), "-l", str(kill_after + 1.5), "-c", "4", "-q", "2000",
                       "-t", "1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
time.sleep(kill_after)
os.kill(p.pid, signal.SIGKILL); p.wait()
out, _ = dp.communicate()
m = re.search(r"Queries completed:\s+(\d+)", out)
completed = int(m.group(1))
nx = re.search(r"NXDOMAIN (\d+)", out)
before = (w / "blocked.jsonl").read_text().splitlines()
p = start()
os.kill(p.pid, signal.SIGTERM); p.wait()
lines = (w / "blocked.jsonl").read_text().splitlines()
recs = [json.loads(l) for l in lines]
blocked = [r for r in recs if "event" not in r]
gaps = [(r["from"], r["to"], r["reason"]) for r in recs if r.get("event") == "gap"]
gap_seqs = sum(t - f + 1 for f, t, _ in gaps)
names = set(r["qname"] for r in blocked)
lost = completed - len(blocked)
v = subprocess.run([CORDON, "audit", "verify", "--allow-gaps",
                    str(w / "blocked.jsonl")], capture_output=True, text=True)
# the highest seq of a blocked line before the kill, the gap start
last_before = max((r["seq"] for r in blocked), default=0)
print(json.dumps({"rate": rate, "sync": sync, "answered": completed,
                  "nxdomain": nx.group(1) if nx else None,
                  "lines_before_kill": len(before), "blocked_lines": len(blocked),
                  "answered_without_line": lost, "gaps": gaps, "gap_seqs": gap_seqs,
                  "covered": lost <= gap_seqs, "unique_names": len(names),
                  "verify_rc": v.returncode, "verify_out": v.stdout.splitlines()[:1],
                  "lines_kept": lines[:len(before)] == before}, indent=1))
