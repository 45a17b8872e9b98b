#!/usr/bin/env bash
# The HTML report's costs (issue 19), as a Markdown section on standard output:
# (1) `verify --rebuild` of the demo pack without a report and with `--report X.html`,
#     interleaved round by round (target: the report adds ≤ 5 %);
# (2) `compare` of two 1 GiB safetensors files with `--report X.html` (the per-tensor chart
#     and histograms collected while comparing): peak RSS (target ≤ 150 MiB), next to the
#     same compare without the report and to numpy comparing the two files loaded whole.
# Usage: bench/report.sh [ROUNDS] (default 5).
source "$(dirname "$0")/common.sh"
root="$(pwd)"
rounds="${1:-5}"
work="${BENCH_WORK:-${TMPDIR:-/tmp}/mlpack-bench}/report"
rm -rf "$work/project" && mkdir -p "$work" && cp -r fixtures/demo-project "$work/project"
cd "$work/project"

# The demo pack: pretrain, edit, fine-tune, as scripts/demo.sh records it.
{
    git init -q && git add -A && git -c user.name=B -c user.email=b@example.org commit -qm demo
    printf 'dataset/\ncheckpoints/\n*.safetensors\n*.json\n' > .gitignore
    python3 make_data.py --out dataset
    "$mlpack" run --name pretrain -i dataset --metrics pretrain-metrics.json -- \
        python3 train.py --data dataset --epochs 40 --out checkpoints/pretrain.safetensors --metrics pretrain-metrics.json
    sed -i 's/default=0.5/default=0.2/' train.py
    "$mlpack" run --name finetune -i dataset -i checkpoints/pretrain.safetensors --metrics metrics.json -- \
        python3 train.py --data dataset --init checkpoints/pretrain.safetensors --epochs 20 --out finetuned.safetensors --metrics metrics.json
    "$mlpack" create --output "$work/demo.mlpack" --output-of finetuned.safetensors --unsigned --force \
        --atol 1e-6 --metric-tolerance test_accuracy=0.01
} >/dev/null 2>&1
cd "$work"
verify=("$mlpack" verify demo.mlpack --rebuild --python-env host --allow-unsigned --cache cache -q)
"${verify[@]}" >/dev/null  # fills the data cache; fails the bench if the demo does not reproduce
: > plain.t; : > html.t
# Which goes first alternates: a rebuild leaves the page cache and the CPU's clock warmer for the next.
for round in $(seq "$rounds"); do
    if ((round % 2)); then
        seconds "${verify[@]}" >> plain.t
        rm -f review.html && seconds "${verify[@]}" --report review.html >> html.t
    else
        rm -f review.html && seconds "${verify[@]}" --report review.html >> html.t
        seconds "${verify[@]}" >> plain.t
    fi
done
[ -s review.html ] || { echo "bench: no HTML report written" >&2; exit 1; }
plain=$(median < plain.t); html=$(median < html.t)

# Two 1 GiB safetensors files: 16 float32 tensors of 64 MiB; b drifts from a by about 1e-4.
python3 - <<'PY'
import os
import numpy as np
from safetensors.numpy import save_file
if not (os.path.exists("a.safetensors") and os.path.getsize("a.safetensors") > 1 << 30):
    rng = np.random.default_rng(19)
    a, b = {}, {}
    for i in range(16):
        t = rng.standard_normal(1 << 24, dtype=np.float32).reshape(4096, 4096)
        a[f"layer{i:02d}.weight"] = t
        b[f"layer{i:02d}.weight"] = t + rng.standard_normal(t.shape, dtype=np.float32) * np.float32(1e-4 * (i + 1))
    save_file(a, "a.safetensors")
    save_file(b, "b.safetensors")
PY
cat > numpy_compare.py <<'PY'
import sys
import numpy as np
from safetensors.numpy import load_file
a, b = load_file(sys.argv[1]), load_file(sys.argv[2])
print(max(float(np.abs(a[k] - b[k]).max()) for k in a))
PY
: > compare.t; : > compare_html.t; : > numpy.t
for _ in $(seq "$rounds"); do
    # compare exits 4 (different at atol 1e-6): that is the result, not a failure.
    /usr/bin/time -f "%e %M" -o t.out "$mlpack" compare a.safetensors b.safetensors --atol 1e-6 >/dev/null 2>&1 || true
    tail -n 1 t.out >> compare.t
    /usr/bin/time -f "%e %M" -o t.out "$mlpack" compare a.safetensors b.safetensors --atol 1e-6 --report compare.html >/dev/null 2>&1 || true
    tail -n 1 t.out >> compare_html.t
    /usr/bin/time -f "%e %M" -o t.out python3 numpy_compare.py a.safetensors b.safetensors >/dev/null 2>&1
    tail -n 1 t.out >> numpy.t
done
grep -q "Element differences of" compare.html || { echo "bench: the comparison report has no histogram" >&2; exit 1; }
med() { awk '{print $1}' "$1.t" | median; }
mib() { echo $(($(awk '{print $2}' "$1.t" | sort -n | tail -n 1) / 1024)); }
overhead=$(echo "scale=4; ($html - $plain) / $plain * 100" | bc)

echo
echo "## The HTML report (issue 19)"
echo
echo "Median of $rounds interleaved rounds, a release build."
echo
echo "| | without a report | with \`--report X.html\` | cost | target | |"
echo "|---|---|---|---|---|---|"
echo "| \`verify --rebuild\` of the demo pack (2 runs, $(command -v dot >/dev/null && echo "Graphviz layout" || echo "layered layout")) | $plain s | $html s | $(printf '%+.1f' "$overhead") % | ≤ 5 % | $([ "$(echo "$overhead <= 5" | bc)" = 1 ] && echo met || echo "not met") |"
echo
echo "| \`compare\` of two 1 GiB safetensors (16 × 64 MiB float32) | time | peak RSS | target | |"
echo "|---|---|---|---|---|"
echo "| mlpack compare --report X.html (charts, 3 histograms) | $(med compare_html) s | $(mib compare_html) MiB | ≤ 150 MiB | $([ "$(mib compare_html)" -le 150 ] && echo met || echo "not met") |"
echo "| mlpack compare (no report) | $(med compare) s | $(mib compare) MiB | | |"
echo "| numpy: both files loaded, max abs per tensor | $(med numpy) s | $(mib numpy) MiB | | |"
