"""Lines lost on SIGKILL at a high blocked rate (issue 9), exactly: NPROC
client processes send unique blocked queries at RATE/s in all (0: as
fast as they can), each records the names whose answers came back;
cordond is killed after KILL_AFTER seconds and restarted.  Prints the
answers that have no line and the gap lines, which must cover them.

    /usr/bin/python3 tests/bench/audit-sigkill.py NPROC KILL_AFTER SYNC [RATE]
    e.g. ... 2 3 yes 30000
"""
import json, os, select, signal, socket, subprocess, sys, time
from multiprocessing import Process
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "system"))
from conftest import build_conf, free_port

CORDOND = os.environ.get("CORDOND",
                         str(HERE.parents[1] / "daemon" / "cordond"))

def wire(name, qid):
    q = qid.to_bytes(2, "big") + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
    for part in name.split("."):
        q += bytes([len(part)]) + part.encode()
    return q + b"\x00\x00\x01\x00\x01"

def client(port, k, dur, out, rate, window=256):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 24)
    s.setblocking(False)
    names = {}
    got = []
    i = 0
    start = time.monotonic(); end = start + dur
    inflight = 0
    while time.monotonic() < end:
        allowed = int((time.monotonic() - start) * rate) if rate else 1 << 62
        while inflight < window and i < allowed:
            qid = i & 0xffff
            name = "p%d-%d.binance.com" % (k, i)
            names[qid] = name
            try:
                s.sendto(wire(name, qid), ("127.0.0.1", port))
            except BlockingIOError:
                break
            i += 1; inflight += 1
        r, _, _ = select.select([s], [], [], 0.002)
        if not r:
            inflight = max(0, inflight - window // 4)   # losses after a kill
            continue
        while True:
            try:
                data = s.recv(512)
            except (BlockingIOError, ConnectionRefusedError):
                break
            qid = int.from_bytes(data[:2], "big")
            if data[3] & 0xf == 3 and qid in names:
                got.append(names.pop(qid)); inflight -= 1
    Path(out).write_text("\n".join(got))

if __name__ == "__main__":
    nproc = int(sys.argv[1]); kill_after = float(sys.argv[2]); sync = sys.argv[3]
    rate = float(sys.argv[4]) if len(sys.argv) > 4 else 0
    w = Path(os.environ.get("TMPDIR", "/tmp")) / ("cordon-sigkill-%s" % sync)
    subprocess.run(["rm", "-rf", str(w)])
    w.mkdir()
    port = free_port()
    conf = build_conf(w, port, "127.0.0.1:9", {"log": {"client_rate": "0", "sync": sync},
                                               "server": {"threads": "2"}})
    def start():
        p = subprocess.Popen([CORDOND, "-f", "-c", str(conf)],
                             stderr=subprocess.DEVNULL, cwd=w)
        time.sleep(0.7); return p
    p = start()
    procs = [Process(target=client, args=(port, k, kill_after + 0.5, w / ("got%d" % k), rate / nproc)) for k in range(nproc)]
    t0 = time.monotonic()
    for c in procs: c.start()
    time.sleep(kill_after)
    os.kill(p.pid, signal.SIGKILL); p.wait()
    for c in procs: c.join()
    got = set()
    for k in range(nproc):
        t = (w / ("got%d" % k)).read_text()
        got |= set(t.split("\n")) if t else set()
    p = start(); os.kill(p.pid, signal.SIGTERM); p.wait()
    recs = [json.loads(l) for l in (w / "blocked.jsonl").read_text().splitlines()]
    logged = set(r["qname"] for r in recs if "event" not in r)
    gaps = [(r["from"], r["to"]) for r in recs if r.get("event") == "gap"]
    missing = got - logged
    print(json.dumps({"answered": len(got), "rate": int(len(got) / kill_after),
                      "answered_without_line": len(missing),
                      "gap_seqs": sum(t - f + 1 for f, t in gaps), "gaps": gaps,
                      "covered": len(missing) <= sum(t - f + 1 for f, t in gaps)}))
