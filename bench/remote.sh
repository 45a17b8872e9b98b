#!/usr/bin/env bash
# Remote packs (issue 21), as a Markdown section on standard output: a 2 GiB pack served on
# loopback by a Range-capable server that counts the bytes it sends
# (fixtures/tools/range_server.py); `inspect`, `extract --only` one small file and `verify`
# of the remote pack against the same commands on the local file, interleaved.
# Usage: bench/remote.sh [ROUNDS] (default 5).
source "$(dirname "$0")/common.sh"
root="$(pwd)"
rounds="${1:-5}"
work="${BENCH_WORK:-${TMPDIR:-/tmp}/mlpack-bench}/remote"
mkdir -p "$work/www" && cd "$work"
if [ ! -s www/paper.mlpack ]; then
    mkdir -p code/pkg && for i in $(seq 0 59); do printf 'def f():\n    return %d\n' "$i" > "code/pkg/m$i.py"; done
    # 64 MiB of random bytes, 32 times: zstd's window is far smaller, so nothing compresses.
    head -c 67108864 /dev/urandom > block && for _ in $(seq 32); do cat block; done > weights.bin && rm block
    "$mlpack" create -o www/paper.mlpack --code code --weights weights.bin --unsigned -q >/dev/null
    rm weights.bin
fi
python3 -u "$root/fixtures/tools/range_server.py" www > port &
server=$!
trap 'kill $server 2>/dev/null' EXIT
for _ in $(seq 50); do [ -s port ] && break; sleep 0.1; done
remote="http://127.0.0.1:$(cat port)/paper.mlpack"
sent() { curl -fsS "http://127.0.0.1:$(cat port)/_stats" | python3 -c 'import json, sys; print(json.load(sys.stdin)["bytes"])'; }
one=$(tar --zstd -tf www/paper.mlpack | grep '/pkg/m17.py$' | sed 's|^[^/]*/data/||')
: > inspect_local.t; : > inspect_remote.t; : > extract_local.t; : > extract_remote.t; : > verify_local.t; : > verify_remote.t
for _ in $(seq "$rounds"); do
    seconds "$mlpack" inspect www/paper.mlpack >> inspect_local.t
    before=$(sent); seconds "$mlpack" inspect "$remote" >> inspect_remote.t; inspect_bytes=$(($(sent) - before))
    rm -rf x && seconds "$mlpack" extract www/paper.mlpack --to x --only "$one" -q >> extract_local.t
    rm -rf x && before=$(sent) && seconds "$mlpack" extract "$remote" --to x --only "$one" -q >> extract_remote.t
    extract_bytes=$(($(sent) - before))
done
for _ in $(seq 2); do
    seconds "$mlpack" verify www/paper.mlpack --allow-unsigned -q >> verify_local.t
    before=$(sent); seconds "$mlpack" verify "$remote" --allow-unsigned -q >> verify_remote.t; verify_bytes=$(($(sent) - before))
done
rm -rf x
size=$(stat -c %s www/paper.mlpack)
ratio() { echo "scale=2; $1 / $2" | bc | sed 's/^\./0./'; }
il=$(median < inspect_local.t); ir=$(median < inspect_remote.t)
el=$(median < extract_local.t); er=$(median < extract_remote.t)
vl=$(median < verify_local.t); vr=$(median < verify_remote.t)
echo
echo "## Remote packs (issue 21)"
echo
echo "A $((size >> 20)) MiB pack served on loopback by fixtures/tools/range_server.py (Python, HTTP Range); median of $rounds rounds (2 for verify). Bytes are the server's count of body bytes sent."
echo
echo "| command | local | remote | remote / local | bytes transferred | target | |"
echo "|---|---|---|---|---|---|---|"
echo "| inspect | $il s | $ir s | **$(ratio "$ir" "$il")×** | $inspect_bytes | ≤ 1 MiB, ≤ 2× local | $([ "$inspect_bytes" -le 1048576 ] && [ "$(echo "$ir <= 2 * $il" | bc)" = 1 ] && echo met || echo "not met") |"
echo "| extract --only one small file | $el s | $er s | $(ratio "$er" "$el")× | $extract_bytes | ≤ 2 frames | |"
echo "| verify | $vl s | $vr s | $(ratio "$vr" "$vl")× | $verify_bytes (pack: $size) | once through | $([ "$verify_bytes" -le $((size + 2097152)) ] && echo met || echo "not met") |"
