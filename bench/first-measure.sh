#!/usr/bin/env bash
# First side-by-side measure (issue 2): mlpack create of 1 GiB of random float32 weights vs
# `tar -I 'zstd -3 -T2' -cf` + `sha256sum`, and vs `openssl dgst -sha256` (the hashing floor);
# inspect on a 1 GiB pack vs a 1 MiB pack; peak RSS of create/verify with 2 GiB of weights.
# Runs interleaved, N rounds, prints medians. Usage: bench/first-measure.sh [WORKDIR] [ROUNDS]
source "$(dirname "$0")/common.sh"
work="${1:-$(mktemp -d)}"
rounds="${2:-3}"
mkdir -p "$work/code" && cd "$work"
echo 'print("train")' > code/train.py
python3 - <<'PY'
import numpy as np, os
rng = np.random.default_rng(1)
if not os.path.exists("w1g.bin"):
    with open("w1g.bin", "wb") as f:
        for _ in range(16):
            rng.standard_normal(16 << 20, dtype=np.float32).tofile(f)
PY
head -c $((1 << 20)) w1g.bin > w1m.bin


: > create.t; : > tarsha.t; : > openssl.t
for _ in $(seq "$rounds"); do
    seconds "$mlpack" create -o p.mlpack --code code --weights w1g.bin --unsigned --force -q >> create.t
    seconds sh -c "tar -I 'zstd -3 -T2' -cf t.tar.zst w1g.bin code && sha256sum w1g.bin" >> tarsha.t
    seconds openssl dgst -sha256 w1g.bin >> openssl.t
done
c=$(median < create.t); t=$(median < tarsha.t); o=$(median < openssl.t)
echo "create 1 GiB:            mlpack $c s | tar+zstd -3 -T2 + sha256sum $t s | openssl dgst $o s"
echo "ratios:                  vs tar+sha256sum $(echo "scale=2; $c / $t" | bc) | vs openssl $(echo "scale=2; $c / $o" | bc)"

"$mlpack" create -o small.mlpack --code code --weights w1m.bin --unsigned --force -q >/dev/null
for pack in small.mlpack p.mlpack; do
    : > inspect.t
    for _ in $(seq 20); do seconds "$mlpack" inspect "$pack" >> inspect.t; done
    echo "inspect $pack ($(du -h "$pack" | cut -f1)): median $(median < inspect.t) s over 20 runs"
done

cat w1g.bin w1g.bin > w2g.bin
/usr/bin/time -f "create 2 GiB: %e s, peak RSS %M KiB" "$mlpack" create -o p2.mlpack --code code --weights w2g.bin --unsigned --force -q >/dev/null
/usr/bin/time -f "verify 2 GiB: %e s, peak RSS %M KiB" "$mlpack" verify p2.mlpack --allow-unsigned -q >/dev/null
rm -f w2g.bin p2.mlpack t.tar.zst
