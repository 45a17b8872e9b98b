#!/usr/bin/env bash
# Data-reference hashing (issue 4): `mlpack create --data` on a directory of 10,000 small files
# and on one 1 GiB file, against `find | xargs sha256sum` and `openssl dgst -sha256`,
# interleaved, medians of ROUNDS. `create` also captures the environment and writes a small
# pack: the "overhead" line measures that alone, on a 1-byte input.
# Usage: bench/data-hashing.sh [WORKDIR] [ROUNDS]
source "$(dirname "$0")/common.sh"
work="${1:-$(mktemp -d)}"
rounds="${2:-5}"
mkdir -p "$work" && cd "$work"
python3 - <<'PY'
import os
os.makedirs("small", exist_ok=True)
if len(os.listdir("small")) < 10000:
    rng = os.urandom
    for i in range(10000):
        d = f"small/d{i // 500:02d}"
        os.makedirs(d, exist_ok=True)
        with open(f"{d}/f{i:05d}.bin", "wb") as f:
            f.write(rng(1024 + (i * 37) % 8192))
if not os.path.exists("big.bin"):
    with open("big.bin", "wb") as f:
        for _ in range(64):
            f.write(os.urandom(16 << 20))
PY
echo x > tiny.txt
: > m_small.t; : > s_small.t; : > m_big.t; : > s_big.t; : > o_big.t; : > o_small.t; : > m_tiny.t
for _ in $(seq "$rounds"); do
    seconds "$mlpack" create -o p.mlpack --data d=tiny.txt --unsigned --force -q >> m_tiny.t
    seconds "$mlpack" create -o p.mlpack --data d=small --unsigned --force -q >> m_small.t
    seconds sh -c "find small -type f -print0 | xargs -0 sha256sum" >> s_small.t
    seconds sh -c "find small -type f -print0 | xargs -0 openssl dgst -sha256" >> o_small.t
    seconds "$mlpack" create -o p.mlpack --data d=big.bin --unsigned --force -q >> m_big.t
    seconds sha256sum big.bin >> s_big.t
    seconds openssl dgst -sha256 big.bin >> o_big.t
done
t=$(median < m_tiny.t)
ms=$(median < m_small.t); ss=$(median < s_small.t); os_=$(median < o_small.t)
mb=$(median < m_big.t); sb=$(median < s_big.t); ob=$(median < o_big.t)
echo "overhead (create --data of 1 byte, env capture included): $t s"
echo "10,000 files ($(du -sh small | cut -f1)): mlpack $ms s | find|xargs sha256sum $ss s (ratio $(echo "scale=2; $ms / $ss" | bc)) | find|xargs openssl $os_ s (ratio $(echo "scale=2; $ms / $os_" | bc))"
echo "1 GiB file: mlpack $mb s | sha256sum $sb s (ratio $(echo "scale=2; $mb / $sb" | bc)) | openssl dgst $ob s (ratio $(echo "scale=2; $mb / $ob" | bc))"
