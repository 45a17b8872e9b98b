#!/usr/bin/env bash
# `make bench`: mlpack side by side with the tools users would use instead, interleaved round
# by round on the same generated inputs; medians, ratios (mlpack / baseline) and peak RSS
# (/usr/bin/time) go to bench/RESULTS.md with the machine's description.
# `make bench-smoke` (bench/run.sh --smoke): tiny inputs, one round, results to
# out/bench-smoke/RESULTS.md; it checks that the harness works and asserts no time.
source "$(dirname "$0")/common.sh"
root="$(pwd)"

if [ "${1:-}" = "--smoke" ]; then
    mib=8; big_mib=16; code_files=40; data_files=100; rounds=1; inspect_rounds=3
    results="$root/out/bench-smoke/RESULTS.md"; work="${TMPDIR:-/tmp}/mlpack-bench-smoke"
else
    mib="${BENCH_WEIGHTS_MIB:-1024}"; big_mib="${BENCH_BIG_MIB:-4096}"; code_files=2000; data_files=10000
    rounds="${BENCH_ROUNDS:-5}"; inspect_rounds=20
    results="$root/bench/RESULTS.md"; work="${BENCH_WORK:-${TMPDIR:-/tmp}/mlpack-bench}"
    # The optional baselines (PyPI): model-signing (hashing only) and DVC.
    python3 -c 'import model_signing.hashing, OpenSSL' 2>/dev/null || pip install -q model-signing pyopenssl >/dev/null 2>&1 || true
    command -v dvc >/dev/null || pip install -q dvc >/dev/null 2>&1 || true
fi
# Outside any git repository: mlpack would take the code selection from git.
mkdir -p "$work" "$(dirname "$results")"
cd "$work"

# ---- inputs -------------------------------------------------------------------------------
python3 - "$mib" "$big_mib" "$code_files" "$data_files" <<'PY'
import os, sys
import numpy as np
mib, big_mib, code_files, data_files = map(int, sys.argv[1:])
rng = np.random.default_rng(2026)
def weights(path, size_mib):
    if os.path.exists(path) and os.path.getsize(path) == size_mib << 20:
        return
    with open(path, "wb") as f:
        for start in range(0, size_mib, 64):
            rng.standard_normal(min(64, size_mib - start) << 18, dtype=np.float32).tofile(f)
os.makedirs("model", exist_ok=True)
weights("model/weights.bin", mib)
weights("big-weights.bin", big_mib)
if not os.path.isdir("model/code") or sum(len(f) for _, _, f in os.walk("model/code")) != code_files:
    for i in range(code_files):
        d = f"model/code/pkg{i % 40:02d}"
        os.makedirs(d, exist_ok=True)
        with open(f"{d}/m{i:04d}.py", "w") as f:
            f.write(f"def f{i}(x):\n    return x * {i}\n" * (1 + i % 30))
if not os.path.isdir("dataset") or sum(len(f) for _, _, f in os.walk("dataset")) != data_files:
    for i in range(data_files):
        d = f"dataset/part{i // 500:02d}"
        os.makedirs(d, exist_ok=True)
        with open(f"{d}/s{i:05d}.bin", "wb") as f:
            f.write(os.urandom(1024 + (i * 37) % 8192))
PY
head -c $((1 << 20)) model/weights.bin > small-weights.bin

# ---- measuring ----------------------------------------------------------------------------
# measure NAME CMD...: appends "seconds peak-KiB" of one run to NAME.t (output discarded).
measure() {
    local name=$1; shift
    /usr/bin/time -f "%e %M" -o time.out "$@" >/dev/null 2>&1 || { echo "bench: failed: $*" >&2; exit 1; }
    tail -n 1 time.out >> "$name.t"
}
med() { awk '{print $1}' "$1.t" | median; }
rss() { awk '{print $2}' "$1.t" | sort -n | tail -n 1; }
ratio() { if [ "$(echo "$2 > 0" | bc)" = 1 ]; then echo "scale=3; $1 / $2" | bc | sed 's/^\./0./'; else echo "n/a"; fi; }
rm -f ./*.t
have_model_signing=$(python3 -c 'import model_signing.hashing, OpenSSL' 2>/dev/null && echo yes || echo no)
have_dvc=$(command -v dvc >/dev/null && echo yes || echo no)

# ---- rounds, interleaved -------------------------------------------------------------------
# create/verify: the weights + the code tree; data hashing: the 10,000-file dataset.
# The data rows run create twice: capturing this machine's environment as it does by default,
# and with a capture saved beforehand (`create --env`), which leaves hashing and writing.
"$mlpack" env --json > env.json
[ -f t.tar.zst ] || { tar -I 'zstd -3 -T2' -cf t.tar.zst model && (cd model && find . -type f -print0 | xargs -0 sha256sum > ../sums); }
for round in $(seq "$rounds"); do
    # Every writer makes a new file: the previous round's output is removed first, untimed
    # (replacing a file on this VM costs more than writing it, and tar would pay it for
    # truncating while mlpack pays it at the rename).
    rm -f p.mlpack && measure create "$mlpack" create -o p.mlpack --code model/code --weights model/weights.bin --unsigned -q
    rm -f t.tar.zst && measure tar_create sh -c "tar -I 'zstd -3 -T2' -cf t.tar.zst model && find model -type f -print0 | xargs -0 sha256sum > /dev/null"
    measure floor_create sh -c "find model -type f -print0 | xargs -0 openssl dgst -sha256"
    # Writing the same bytes to a new file: what the disk and page cache charge any creator.
    rm -f copy.bin && measure floor_write cp model/weights.bin copy.bin
    [ "$have_model_signing" = yes ] && measure model_signing python3 -c "import model_signing.hashing as h; h.hash('model')"

    measure verify "$mlpack" verify p.mlpack --allow-unsigned -q
    # The second reader (spec/verify.py): the reference, not the fast path (no target).
    measure verify_py python3 "$root/spec/verify.py" p.mlpack --allow-unsigned -q
    measure tar_verify sh -c "rm -rf x && mkdir x && tar --zstd -xf t.tar.zst -C x && cd x/model && sha256sum --quiet -c ../../sums"
    rm -rf x

    measure data "$mlpack" create -o d.mlpack --data d=dataset --unsigned --force -q
    measure data_saved "$mlpack" create -o d.mlpack --data d=dataset --env env.json --unsigned --force -q
    measure sha_data sh -c "find dataset -type f -print0 | xargs -0 sha256sum"
    if [ "$have_dvc" = yes ]; then
        rm -rf dvc && mkdir dvc && cp -r dataset dvc/dataset && (cd dvc && dvc init --no-scm -q)
        measure dvc sh -c "cd dvc && dvc add -q dataset"
    fi
done
# data hashing overhead: create on a 1-byte input (environment capture, pack writing), and
# the Python probe alone as create runs it (python3 -c, the first python3 on PATH).
# The raw string's lines lose the indentation of its closing delimiter, as Swift strips it.
python3 - "$root/Sources/MLPack/Capture/Environment/PythonParsers.swift" > probe.py <<'PY'
import re, sys
text = open(sys.argv[1]).read()
body, indent = re.search(r'probeScript = #"""\n(.*?)\n( *)"""#', text, re.S).groups()
print("\n".join(line[len(indent):] for line in body.split("\n")))
PY
echo x > tiny.txt
for _ in $(seq "$rounds"); do
    measure tiny "$mlpack" create -o tiny.mlpack --data d=tiny.txt --unsigned --force -q
    measure probe python3 -c "$(cat probe.py)"
done

# ---- inspect and extract on a large pack --------------------------------------------------
"$mlpack" create -o big.mlpack --code model/code --weights big-weights.bin --unsigned --force -q
"$mlpack" create -o small.mlpack --code model/code --weights small-weights.bin --unsigned --force -q
one=$(tar --zstd -tf small.mlpack | grep '/data/code/.*/pkg00/m0000.py$' | head -n 1 | sed 's|^[^/]*/data/||')
for _ in $(seq "$inspect_rounds"); do
    measure inspect_big "$mlpack" inspect big.mlpack
    measure inspect_small "$mlpack" inspect small.mlpack
    rm -rf one && measure extract_one "$mlpack" extract big.mlpack --to one --only "$one" -q
done
for _ in $(seq "$rounds"); do
    measure tar_list sh -c "tar --zstd -tf big.mlpack"
    rm -rf one && mkdir one && measure tar_extract_one sh -c "tar --zstd -xf big.mlpack -C one big/data/$one"
done
rm -rf one x dvc copy.bin

# ---- the report ---------------------------------------------------------------------------
row() {  # row NAME MLPACK BASELINE-NAME BASELINE TARGET
    local m b r ok
    m=$(med "$2"); b=$(med "$4"); r=$(ratio "$m" "$b")
    ok=$([ "$r" = n/a ] && echo 0 || echo "$r <= $5" | bc)
    echo "| $1 | $m s | $3 | $b s | **$r** | ≤ $5 | $([ "$ok" = 1 ] && echo met || echo "not met") |"
}
ms() { echo "$(echo "$(med "$1") * 1000" | bc | sed 's/\..*//') ms"; }
size() { du -h "$1" | cut -f1; }
{
    echo "# Benchmarks"
    echo
    echo "Regenerated by \`make bench\` ($(date -u +%Y-%m-%dT%H:%MZ)). Every row ran mlpack and its baseline"
    echo "interleaved, round by round, on the same inputs; times are medians of $rounds rounds"
    echo "($inspect_rounds for inspect/extract), ratios are mlpack / baseline (lower is better)."
    echo
    echo "## Machine"
    echo
    echo "- CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) cores"
    echo "- Memory: $(free -g | awk '/^Mem:/ {print $2}') GiB; disk: $(df -h "$work" | awk 'NR==2 {print $1 " (" $2 ")"}')"
    echo "- Kernel $(uname -r); $(swift --version 2>&1 | head -n 1)"
    echo "- $(tar --version | head -n 1), $(zstd --version), $(sha256sum --version | head -n 1), $(openssl version)"
    [ "$have_model_signing" = yes ] && echo "- model-signing $(python3 -c 'import importlib.metadata as m; print(m.version("model-signing"))')"
    [ "$have_dvc" = yes ] && echo "- $(dvc --version 2>/dev/null | head -n 1 | sed 's/^/dvc /')"
    echo
    echo "## Inputs"
    echo
    echo "- weights: $mib MiB of random-normal float32 (model/weights.bin) and a code tree of $code_files small files (model/code, $(du -sh model/code | cut -f1))"
    echo "- dataset: $data_files files of 1–9 KiB ($(du -sh dataset | cut -f1))"
    echo "- large pack: $big_mib MiB of weights + the code tree ($(size big.mlpack)); small pack: 1 MiB of weights + the code tree ($(size small.mlpack))"
    echo
    echo "## Results"
    echo
    echo "| benchmark | mlpack | baseline | baseline time | ratio | target | |"
    echo "|---|---|---|---|---|---|---|"
    row "create (weights + code)" create "tar -I 'zstd -3 -T2' -cf + sha256sum" tar_create 0.35
    row "create (weights + code)" create "openssl dgst -sha256 (the floor)" floor_create 1.3
    [ "$have_model_signing" = yes ] && row "create (weights + code)" create "model_signing hash (hashing only)" model_signing 1.0
    echo "| create, for reference | $(med create) s | \`cp\` of the weights to a new file (writing alone) | $(med floor_write) s | $(ratio "$(med create)" "$(med floor_write)") | | |"
    row "verify" verify "tar --zstd -xf + sha256sum -c" tar_verify 0.35
    row "verify" verify "openssl dgst -sha256 (the floor)" floor_create 1.3
    echo "| verify by \`spec/verify.py\` (the second reader: no target) | $(med verify_py) s, peak RSS $(($(rss verify_py) / 1024)) MiB | \`mlpack verify\` | $(med verify) s | $(ratio "$(med verify_py)" "$(med verify)") | | |"
    row "data reference, $data_files files (environment captured now)" data "find \| xargs sha256sum" sha_data 0.5
    [ "$have_dvc" = yes ] && row "data reference, $data_files files (environment captured now)" data "dvc add" dvc 0.5
    row "data reference, $data_files files (\`--env env.json\`: hashing and the pack)" data_saved "find \| xargs sha256sum" sha_data 0.5
    [ "$have_dvc" = yes ] && row "data reference, $data_files files (\`--env env.json\`: hashing and the pack)" data_saved "dvc add" dvc 0.5
    echo
    echo "| benchmark | mlpack | baseline | target | |"
    echo "|---|---|---|---|---|"
    ib=$(med inspect_big); is=$(med inspect_small)
    echo "| inspect, large pack | $(ms inspect_big) | \`tar --zstd -tf\` $(ms tar_list) | ≤ 50 ms and ≤ 2× small ($(ms inspect_small)): $(ratio "$ib" "$is")× | $([ "$(echo "$ib <= 0.05 && $ib <= 2 * $is" | bc)" = 1 ] && echo met || echo "not met") |"
    echo "| extract one small file, large pack | $(ms extract_one) | \`tar --zstd -xf\` one member $(ms tar_extract_one) | ≤ 100 ms | $([ "$(echo "$(med extract_one) <= 0.1" | bc)" = 1 ] && echo met || echo "not met") |"
    echo "| create --data of 1 byte (fixed cost: environment capture, pack) | $(ms tiny) | its Python probe alone ($(python3 -c 'import sys; print(sys.executable)'), $(python3 -c 'import importlib.metadata as m; print(len(list(m.distributions())))') distributions) $(ms probe) | | |"
    echo
    echo "Peak RSS of every mlpack command (target ≤ 150 MiB):"
    echo
    echo "| command | peak RSS |"
    echo "|---|---|"
    for name in create verify data data_saved tiny inspect_big inspect_small extract_one; do
        kib=$(rss "$name")
        echo "| $name | $((kib / 1024)) MiB $([ "$kib" -le $((150 * 1024)) ] && echo "(met)" || echo "(not met)") |"
    done
} > "$results"
# The costs at the reader limits (minutes of input generation): not in the smoke run.
[ "${1:-}" = "--smoke" ] || bash "$root/bench/costs.sh" >> "$results"
[ "${1:-}" = "--smoke" ] || bash "$root/bench/tracing.sh" >> "$results"
[ "${1:-}" = "--smoke" ] || bash "$root/bench/report.sh" >> "$results"
[ "${1:-}" = "--smoke" ] || bash "$root/bench/object-store.sh" >> "$results"
[ "${1:-}" = "--smoke" ] || bash "$root/bench/remote.sh" >> "$results"
# Building a pack's Python environment from PyPI (the network).
[ "${1:-}" = "--smoke" ] || bash "$root/bench/env-build.sh" >> "$results"
cat "$results"
