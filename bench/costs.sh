#!/usr/bin/env bash
# Costs at the reader limits (bench/hostile-packs.py makes the inputs): time and peak RSS of
# verify, inspect, extract, redact and compare on what a stranger can hand mlpack under the
# default limits, next to `tar -t` on the same pack. Prints a Markdown section; `make bench`
# appends it to bench/RESULTS.md. Asserts nothing.
source "$(dirname "$0")/common.sh"
root="$(pwd)"
gen="$root/bench/hostile-packs.py"
work="${BENCH_WORK:-${TMPDIR:-/tmp}/mlpack-bench}/costs"
mkdir -p "$work" && cd "$work"

# Inputs, made once.
[ -f names.mlpack ] || python3 "$gen" names names.mlpack                 # 199,999 names of ~3.8 KB
[ -f names64.mlpack ] || python3 "$gen" names names64.mlpack 199999 330  # 199,999 names, 64 MiB in all
if [ ! -f items.mlpack ]; then
    rm -rf tree && python3 "$gen" tree tree
    "$mlpack" create -o items.mlpack --code tree --unsigned -q --force
fi
if [ ! -f links.mlpack ]; then
    rm -rf links && python3 "$gen" links links
    "$mlpack" create -o links.mlpack --code links --unsigned -q --force
fi
[ -f a.safetensors ] || python3 "$gen" safetensors a.safetensors 1024 0
[ -f b.safetensors ] || python3 "$gen" safetensors b.safetensors 1024 1
[ -f m0.safetensors ] || python3 "$gen" many-tensors m0.safetensors 800000 0
[ -f m1.safetensors ] || python3 "$gen" many-tensors m1.safetensors 800000 1

# row LABEL CMD...: one run; "| label | seconds | MiB | exit |" (the exit shows a rejection).
row() {
    local label=$1; shift
    local status=0
    /usr/bin/time -f "%e %M" -o time.out "$@" >/dev/null 2>err.out || status=$?
    read -r seconds kib < <(tail -n 1 time.out)
    echo "| $label | $seconds s | $((kib / 1024)) MiB | $status |"
}
size() { du -hL "$1" | cut -f1; }

echo
echo "## Costs at the reader limits"
echo
echo "\`bench/costs.sh\` ($(date -u +%Y-%m-%dT%H:%MZ)): one run each; inputs from \`bench/hostile-packs.py\`."
echo "Exit 1 is a rejection (the pack is hostile): what matters is what it cost to say so."
echo
echo "| command | time | peak RSS | exit |"
echo "|---|---|---|---|"
row "verify, 199,999 names of 3.8 KB ($(size names.mlpack); rejected at the 64 MiB name limit)" "$mlpack" verify names.mlpack
row "inspect, the same" "$mlpack" inspect names.mlpack
rm -rf x && row "extract, the same" "$mlpack" extract names.mlpack --to x
row "baseline: \`tar --zstd -tf\`, the same" tar --zstd -tf names.mlpack
row "verify, 199,999 names, 64 MiB in all ($(size names64.mlpack); no manifest)" "$mlpack" verify names64.mlpack
row "inspect, the same" "$mlpack" inspect names64.mlpack
rm -rf x && row "extract, the same" "$mlpack" extract names64.mlpack --to x
row "baseline: \`tar --zstd -tf\`, the same" tar --zstd -tf names64.mlpack
row "verify, a valid pack of $(tar --zstd -tf items.mlpack | wc -l) entries ($(size items.mlpack))" "$mlpack" verify items.mlpack --allow-unsigned
row "inspect, the same" "$mlpack" inspect items.mlpack
rm -rf x && row "extract, the same" "$mlpack" extract items.mlpack --to x
rm -rf x
row "redact --drop of 1,000 items, the same" "$mlpack" redact items.mlpack -o redacted.mlpack --drop 'code/*/d000/*' --force
row "baseline: \`tar --zstd -tf\`, the same" tar --zstd -tf items.mlpack
row "verify, 30,000 hard links to 30,000 targets ($(size links.mlpack))" "$mlpack" verify links.mlpack --allow-unsigned
row "compare, two 1 GiB safetensors (one tensor)" "$mlpack" compare a.safetensors b.safetensors
row "compare, two safetensors of 800,000 tensors ($(size m0.safetensors))" "$mlpack" compare m0.safetensors m1.safetensors
