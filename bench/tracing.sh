#!/usr/bin/env bash
# The cost of tracing (issue 17): (1) a Python loop opening 30,000 small files and (2) a
# compute-bound numpy training of about 5 s, each run plain, under `mlpack run` (preload
# tracing, the default), `mlpack run --no-trace`, `strace -f --seccomp-bpf` and `reprozip
# trace`, interleaved round by round; medians and ratios. Then hashing once: a first and a
# second `mlpack run` over an unchanged 10,000-file dataset read by the command, each over
# `--no-trace`. Prints a Markdown section; `make bench` appends it to bench/RESULTS.md.
# Asserts nothing.
# Usage: bench/tracing.sh [ROUNDS]
source "$(dirname "$0")/common.sh"
rounds="${1:-5}"
work="${BENCH_WORK:-${TMPDIR:-/tmp}/mlpack-bench}/tracing"
command -v reprozip >/dev/null || pip install -q reprozip >/dev/null 2>&1 || true
rm -rf "$work" && mkdir -p "$work/project" && cd "$work/project"
git init -q
python3 - <<'PY'
import os
os.makedirs("small", exist_ok=True)
for i in range(30000):
    with open(f"small/f{i:05d}", "w") as f:
        f.write("x")
for i in range(10000):
    os.makedirs(f"../dataset/part{i // 500:02d}", exist_ok=True)
    with open(f"../dataset/part{i // 500:02d}/s{i:05d}.bin", "wb") as f:
        f.write(os.urandom(4096))
PY
cat > opens.py <<'PY'
for i in range(30000):
    with open(f"small/f{i:05d}") as f:
        f.read()
PY
cat > compute.py <<'PY'
import numpy as np
rng = np.random.default_rng(0)
w = rng.standard_normal((384, 384))
for _ in range(4000):
    w = np.tanh(w @ w.T / 384.0)
PY
cat > dataset.py <<'PY'
import glob, sys
sum(len(open(path, "rb").read()) for path in glob.glob(sys.argv[1] + "/*/*.bin"))
PY
printf 'small/\n' > .gitignore
git add opens.py compute.py dataset.py .gitignore && git -c user.email=b@example.com -c user.name=b commit -qm bench
python=$(python3 -c 'import sys; print(sys.executable)')

variants=(plain mlpack no-trace strace reprozip)
run_variant() {
    local variant=$1 script=$2
    case $variant in
        plain) seconds "$python" "$script" ;;
        mlpack) seconds "$mlpack" run -q -- "$python" "$script" ;;
        no-trace) seconds "$mlpack" run -q --no-trace -- "$python" "$script" ;;
        strace) seconds strace -f --seccomp-bpf -qq -e trace=open,openat -o /dev/null -- "$python" "$script" ;;
        reprozip)
            command -v reprozip >/dev/null || { echo "-"; return; }
            rm -rf .reprozip-trace
            seconds reprozip trace --dont-identify-packages "$python" "$script" ;;
    esac
}
echo
echo "## Tracing: what \`mlpack run\` costs a command (issue 17)"
echo
echo "Median of $rounds interleaved rounds, seconds; ratio to the plain command. \`mlpack run\`"
echo "includes recording (code snapshot, environment capture, hashing the outputs)."
echo
echo "| workload | plain | mlpack run (preload) | mlpack run --no-trace | strace --seccomp-bpf | reprozip trace |"
echo "|---|---|---|---|---|---|"
for workload in opens compute; do
    for variant in "${variants[@]}"; do : > "$workload.$variant.t"; done
    for _ in $(seq "$rounds"); do
        for variant in "${variants[@]}"; do run_variant "$variant" "$workload.py" >> "$workload.$variant.t"; done
    done
    plain=$(median < "$workload.plain.t")
    line="| $workload | $plain s"
    for variant in mlpack no-trace strace reprozip; do
        value=$(grep -v '^-$' "$workload.$variant.t" | median || true)
        if [ -z "$value" ]; then line+=" | not installed"; else line+=" | $value s (×$(echo "scale=2; $value / $plain" | bc))"; fi
    done
    echo "$line |"
done
mlpack_opens=$(median < opens.mlpack.t); notrace_opens=$(median < opens.no-trace.t)
echo
echo "Tracing's own cost on the 30,000 opens: $(echo "scale=3; $mlpack_opens - $notrace_opens" | bc) s over \`--no-trace\`."

# Hashing once, round by round: a first run (empty store), a second (dataset unchanged), and
# `--no-trace` as the baseline (the same command and recording, the dataset not hashed).
: > first.t; : > second.t; : > untraced.t
for _ in $(seq "$rounds"); do
    rm -rf .mlpack
    seconds "$mlpack" run -q -- "$python" dataset.py "$work/dataset" >> first.t
    seconds "$mlpack" run -q -- "$python" dataset.py "$work/dataset" >> second.t
    seconds "$mlpack" run -q --no-trace -- "$python" dataset.py "$work/dataset" >> untraced.t
done
first=$(median < first.t); second=$(median < second.t); untraced=$(median < untraced.t)
echo
echo "Hashing once: \`mlpack run\` over a 10,000-file dataset read by the command (one folder"
echo "input), medians: first run $first s, second run (dataset unchanged) $second s, \`--no-trace\` $untraced s."
echo "The second run's dataset time over the first's, each over \`--no-trace\`: $(echo "scale=3; ($second - $untraced) / ($first - $untraced)" | bc)."
