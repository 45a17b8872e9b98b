#!/usr/bin/env bash
# Building a pack's Python environment (issue 18), on real PyPI: a pack recorded in a venv
# holding the scikit-learn pin set (numpy, scipy, scikit-learn, joblib, threadpoolctl), then
# `mlpack env build` cold (empty uv and mlpack caches) and warm (uv's cache filled, a new
# folder), and `verify --rebuild`'s reuse of its cached environment, side by side with
# `python3 -m venv` + `pip install --no-deps -r` into a fresh venv, cold (--no-cache-dir)
# and warm (pip's cache), interleaved round by round. Needs the network. Prints a Markdown
# section; `make bench` appends it to bench/RESULTS.md. Asserts nothing.
# Usage: bench/env-build.sh [ROUNDS]
source "$(dirname "$0")/common.sh"
rounds="${1:-3}"
work="${BENCH_WORK:-${TMPDIR:-/tmp}/mlpack-bench}/env-build"
pins=(numpy==1.26.4 scipy==1.13.1 scikit-learn==1.5.2 joblib==1.4.2 threadpoolctl==3.5.0)
python=$(python3 -c 'import sys; print(sys.executable)')
# uv's own binary first on PATH: a pyenv shim in front of it costs ~0.1 s per call (a shell
# and `pyenv exec`), which would be measured as mlpack's.
if uv_bin=$("$python" -c 'import uv; print(uv.find_uv_bin())' 2>/dev/null); then
    PATH="$(dirname "$uv_bin"):$PATH"
fi
rm -rf "$work" && mkdir -p "$work/project" && cd "$work"
printf '%s\n' "${pins[@]}" > requirements.txt

# The author: a venv with exactly the pins (and pip, setuptools as `python -m venv` leaves them).
"$python" -m venv author-venv
author-venv/bin/python -m pip install -q --no-deps -r requirements.txt
cd project && git init -q
printf 'import sklearn, numpy\nopen("out.txt", "w").write(sklearn.__version__ + numpy.__version__)\n' > train.py
printf 'out.txt\n' > .gitignore
git add train.py .gitignore && git -c user.email=b@example.com -c user.name=b commit -qm bench
"$mlpack" run -q -- "$work/author-venv/bin/python" train.py
"$mlpack" create -q --output "$work/sklearn.mlpack" --output-of out.txt --unsigned >/dev/null
cd "$work"

variants=(mlpack_cold mlpack_warm mlpack_cached pip_cold pip_warm)
run_variant() {
    rm -rf "$work/target" "$work/venv"
    case $1 in
        mlpack_cold) rm -rf "$work/uv-cache"
            seconds env UV_CACHE_DIR="$work/uv-cache" "$mlpack" env build "$work/sklearn.mlpack" --to "$work/target" ;;
        mlpack_warm) seconds env UV_CACHE_DIR="$work/uv-cache" "$mlpack" env build "$work/sklearn.mlpack" --to "$work/target" ;;
        # What a second `verify --rebuild` pays for its environment: the lookup in mlpack's cache.
        mlpack_cached) seconds env UV_CACHE_DIR="$work/uv-cache" XDG_CACHE_HOME="$work/xdg" \
            "$mlpack" verify "$work/sklearn.mlpack" --rebuild --allow-unsigned -q ;;
        pip_cold) seconds sh -c "'$python' -m venv '$work/venv' && '$work/venv/bin/pip' install -q --no-cache-dir --no-deps -r requirements.txt" ;;
        pip_warm) seconds sh -c "'$python' -m venv '$work/venv' && '$work/venv/bin/pip' install -q --no-deps -r requirements.txt" ;;
    esac
}
# The mlpack cache the `cached` variant reads: one rebuild first.
env UV_CACHE_DIR="$work/uv-cache" XDG_CACHE_HOME="$work/xdg" "$mlpack" verify "$work/sklearn.mlpack" --rebuild --allow-unsigned -q >/dev/null 2>&1 || true
for ((round = 0; round < rounds; round++)); do
    for variant in "${variants[@]}"; do run_variant "$variant" >> "$variant.t"; done
done
for variant in "${variants[@]}"; do printf -v "m_$variant" '%s' "$(median < "$variant.t")"; done
ratio() { echo "scale=3; $1 / $2" | bc; }
met() { [ "$(echo "$1" | bc)" = 1 ] && echo met || echo "not met"; }
cat <<MD

## Building a pack's Python environment (issue 18)

The scikit-learn pin set (${pins[*]}) from PyPI, Python $("$python" -c 'import platform; print(platform.python_version())');
median of $rounds interleaved rounds, seconds. mlpack: \`mlpack env build PACK --to DIR\` (uv venv + uv pip
install --no-deps, wheels only; uv $(uv --version | cut -d' ' -f2) at $(command -v uv)). pip: \`python3 -m venv\` + \`pip install --no-deps -r\` into a fresh venv.

| | mlpack | pip | ratio | target | |
|---|---|---|---|---|---|
| cold (empty uv cache; pip --no-cache-dir) | $m_mlpack_cold s | $m_pip_cold s | **$(ratio "$m_mlpack_cold" "$m_pip_cold")** | ≤ 0.2× pip | $(met "$m_mlpack_cold <= 0.2 * $m_pip_cold") |
| warm (uv's cache filled, a new folder; pip's cache) | $m_mlpack_warm s | $m_pip_warm s | $(ratio "$m_mlpack_warm" "$m_pip_warm") | ≤ 0.5 s | $(met "$m_mlpack_warm <= 0.5") |
| a second \`verify --rebuild\` (whole command; its environment from mlpack's cache) | $m_mlpack_cached s | | | | |
MD
