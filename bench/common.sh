# Shared by the bench scripts: a release build, timing and medians.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# The Swift runtime linked statically, as a Linux CLI ships: it starts ~5 ms sooner.
# BENCH_MLPACK=PATH uses a binary already built (a row whose time is another program's, as env-build's is uv's).
if [ -n "${BENCH_MLPACK:-}" ]; then
    mlpack="$BENCH_MLPACK"
else
    swift build -c release --static-swift-stdlib --product mlpack --scratch-path .build-release >/dev/null
    mlpack="$(pwd)/.build-release/release/mlpack"
fi
# seconds CMD...: wall time of one run, output discarded.
seconds() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }
# median < FILE: the median of one number per line.
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
