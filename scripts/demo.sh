#!/usr/bin/env bash
# The main job end to end, on the demo project: train, create a pack, inspect it, extract it,
# verify it, and check it again with standard tools only. Everything lands in out/demo/.
set -euo pipefail
mlpack="$(pwd)/${1:-.build/debug/mlpack}"
out="$(pwd)/out/demo"
rm -rf "$out" && mkdir -p "$out"
cp -r fixtures/demo-project "$out/project"
cd "$out/project"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "a researcher's project: a git repository"
git init -q && git add -A && git -c user.name=Demo -c user.email=demo@example.org commit -qm "spirals demo" && git log --oneline

step "train the demo model (numpy, CPU, fixed seeds)"
python3 make_data.py --out dataset
python3 train.py --data dataset --out weights.safetensors --metrics metrics.json

step "mlpack key generate: the author's minisign key pair (password from MLPACK_PASSWORD)"
export MLPACK_PASSWORD=demo-password
"$mlpack" key generate --output "$out/author"

step "mlpack create: code + weights into one signed pack"
"$mlpack" create --output "$out/spirals.mlpack" --code . \
    --weights weights.safetensors --title "Two-spirals MLP (mlpack demo)" \
    --created 2026-11-27T00:00:00Z --key "$out/author.key"

step "mlpack inspect"
"$mlpack" inspect "$out/spirals.mlpack"

step "mlpack extract"
"$mlpack" extract "$out/spirals.mlpack" --to "$out/extracted" --key "$out/author.pub"
cmp weights.safetensors "$out/extracted/artifacts/weights.safetensors" && echo "weights extracted bit for bit"

step "mlpack verify, trusting the author's public key"
"$mlpack" verify "$out/spirals.mlpack" --key "$out/author.pub"

step "check it without mlpack: tar, sha256sum, bagit, minisign"
mkdir -p "$out/by-hand" && tar --zstd -xf "$out/spirals.mlpack" -C "$out/by-hand"
cd "$out/by-hand/spirals"
sha256sum --quiet -c manifest-sha256.txt && echo "sha256sum -c manifest-sha256.txt: all OK"
python3 -m bagit --quiet --validate . && echo "bagit --validate: valid bag"
minisign -Vm mlpack/manifest.json -p "$out/author.pub"

step "done: the pack and everything above are in out/demo/"
