#!/bin/sh
# audit-1m.sh: times `cordon audit verify`, `report` and `search` on a
# 1,000,000-line audit log (the target is under 2 s each on an -O2 build).
# The log is generated once by tests/system/auditgen.py in cordond's exact
# format and kept in tests/bench/work/ for later runs.
#
# Usage: tests/bench/audit-1m.sh [--lines N] [--reps N]
#   CORDON   the binary to time (default daemon/cordon)
set -eu
cd "$(dirname "$0")/../.."

lines=1000000
reps=3
while [ $# -gt 0 ]; do
	case "$1" in
	--lines) lines="$2"; shift 2 ;;
	--reps) reps="$2"; shift 2 ;;
	*) echo "usage: $0 [--lines N] [--reps N]" >&2; exit 2 ;;
	esac
done

cordon="${CORDON:-daemon/cordon}"
[ -x "$cordon" ] || { echo "audit-1m: build $cordon first" >&2; exit 1; }
work=tests/bench/work
log="$work/audit-$lines.log"
mkdir -p "$work"

if [ ! -s "$log" ]; then
	echo "generating $lines lines in $log ..."
	/usr/bin/python3 tests/system/auditgen.py --lines "$lines" "$log.tmp"
	mv "$log.tmp" "$log"
fi
echo "log: $log, $(wc -c <"$log") bytes, $lines lines"
cat "$log" >/dev/null	# into the page cache: time the tool, not the disk

# Runs the command reps times; prints each run's wall and CPU seconds and
# the best wall time.
timeit() {
	/usr/bin/python3 -c '
import resource, subprocess, sys, time
reps, what, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
best = None
for i in range(reps):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.monotonic() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    print("%-7s run %d: %6.3f s wall, %6.3f s user, %6.3f s sys" % (
        what, i + 1, wall, r1.ru_utime - r0.ru_utime,
        r1.ru_stime - r0.ru_stime))
    best = wall if best is None else min(best, wall)
print("%-7s best: %.3f s" % (what, best))
' "$reps" "$@"
}

"$cordon" audit verify "$log" >/dev/null || {
	echo "audit-1m: verify failed on the generated log" >&2
	exit 1
}
timeit verify "$cordon" audit verify "$log"
timeit report "$cordon" audit report "$log" --html "$work/audit-report.html"
timeit search "$cordon" audit search "$log" --domain exchange7.example \
    --format csv
