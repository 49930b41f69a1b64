#!/usr/bin/env bash
# The scan bench's competitors timed for CPU as well as wall time (GNU time, whole process, user+sys),
# in interleaved rotated rounds; prints medians and ratios. On a shared machine CPU time moves less
# with the load than wall time does. Build first (npx tsc -p tsconfig.json); make a cache with
# bench/syntheticCache.ts (200 repos x 2 revisions x 50 files, changedPerRevision 1, as bench/scanBench.ts).
#   bash bench/scanCpu.sh CACHE_DIR [ROUNDS] [OTHER_MAIN_JS]
# OTHER_MAIN_JS: dist/cli/main.js of another build (e.g. the commit before a change), timed as "before".
C=$1; N=${2:-9}; BEFORE=${3:-}; cd "$(dirname "$0")/.."
declare -A cmd=(
  [hubcache]="node dist/cli/main.js ls --json --cache-dir $C"
  [before]="node $BEFORE ls --json --cache-dir $C"
  [python]=".venv-hub/bin/python bench/pythonScan.py $C"
  [hfjs]="node bench/hfjsScan.mjs $C"
)
order=(hubcache python hfjs); [ -n "$BEFORE" ] && order+=(before)
out=/tmp/h9-cpubench.$$; : > $out
echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r=0; r<N; r++)); do
  for name in "${order[@]}"; do
    env -u NODE_EXTRA_CA_CERTS /usr/bin/time -f "$name %e %U %S" -a -o $out ${cmd[$name]} > /dev/null
  done
  order=("${order[@]:1}" "${order[0]}")   # rotate
done
node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => l.split(" "));
const med = (a) => { a = [...a].sort((x, y) => x - y); const m = a.length >> 1; return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2; };
const res = {};
for (const n of ["hubcache", "before", "python", "hfjs"]) {
  const rows = lines.filter((l) => l[0] === n);
  if (rows.length === 0) continue;
  res[n] = { wall: med(rows.map((r) => +r[1])), cpu: med(rows.map((r) => +r[2] + +r[3])), n: rows.length };
  console.log(n.padEnd(9), "median wall", res[n].wall.toFixed(3), "s   median CPU (user+sys)", res[n].cpu.toFixed(3), "s  (" + res[n].n + " rounds)");
}
for (const n of ["python", "hfjs", "before"].filter((n) => res[n])) console.log(n.padEnd(7), "/ hubcache: wall", (res[n].wall / res.hubcache.wall).toFixed(2) + "x", " CPU", (res[n].cpu / res.hubcache.cpu).toFixed(2) + "x");
' $out
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -f $out
