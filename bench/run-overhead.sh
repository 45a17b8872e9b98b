#!/usr/bin/env bash
# Recording overhead of `mlpack run` (issue 5): `mlpack run -- true` in a git repository of
# 300 small tracked files vs `true` alone, median of N rounds after one warm-up run (which
# fills the object store), plus the first run's time (every code file copied).
# Usage: bench/run-overhead.sh [WORKDIR] [ROUNDS]
source "$(dirname "$0")/common.sh"
work="${1:-$(mktemp -d)}"
rounds="${2:-11}"
rm -rf "$work/project" && mkdir -p "$work/project" && cd "$work/project"
git init -q
for i in $(seq 1 300); do
    mkdir -p "pkg$((i % 10))"
    printf 'def f%d(x):\n    return x * %d\n' "$i" "$i" > "pkg$((i % 10))/m$i.py"
done
git add . && git -c user.email=bench@example.com -c user.name=bench commit -qm bench
first=$(seconds "$mlpack" run -q -- true)
: > run.t; : > true.t
for _ in $(seq "$rounds"); do
    seconds "$mlpack" run -q -- true >> run.t
    seconds true >> true.t
done
r=$(median < run.t); t=$(median < true.t)
echo "mlpack run -- true (300 files, git): first $first s, median $r s | true: median $t s | overhead $(echo "$r - $t" | bc) s"
