#!/usr/bin/env bash
# The main job end to end, on the demo project: record a two-stage training (pretrain, edit
# the code, fine-tune from the checkpoint) with `mlpack run`, pack the fine-tuned weights'
# lineage into a signed pack, inspect it, extract it, verify it, check it again with
# standard tools only, publish it redacted, and rebuild it as a reviewer would. Everything
# lands in out/demo/.
set -euo pipefail
root="$(pwd)"
mlpack="$root/${1:-.build/debug/mlpack}"
out="$(pwd)/out/demo"
rm -rf "$out" && mkdir -p "$out"
cp -r fixtures/demo-project "$out/project"
cd "$out/project"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "a researcher's project: a git repository"
git init -q && git add -A && git -c user.name=Demo -c user.email=demo@example.org commit -qm "spirals demo" && git log --oneline

step "the dataset (generated from a fixed seed; not code: git ignores it)"
python3 make_data.py --out dataset

step "stage 1, recorded: pretrain (mlpack run -- …)"
"$mlpack" run --name pretrain -i dataset --metrics pretrain-metrics.json -- \
    python3 train.py --data dataset --epochs 40 --out checkpoints/pretrain.safetensors --metrics pretrain-metrics.json

step "edit the code without committing (a lower learning rate for fine-tuning)"
sed -i 's/default=0.5/default=0.2/' train.py && git diff --stat

step "stage 2, recorded: fine-tune from the stage-1 checkpoint"
"$mlpack" run --name finetune -i dataset -i checkpoints/pretrain.safetensors --metrics metrics.json -- \
    python3 train.py --data dataset --init checkpoints/pretrain.safetensors --epochs 20 --out finetuned.safetensors --metrics metrics.json

step "an unrelated experiment, also recorded (it must not end up in the pack)"
"$mlpack" run --name try-high-lr -- python3 train.py --data dataset --lr 3.0 --epochs 5 --out scratch.safetensors --metrics scratch.json

step "mlpack runs"
"$mlpack" runs

step "mlpack key generate: the author's minisign key pair (password from MLPACK_PASSWORD)"
export MLPACK_PASSWORD=demo-password
"$mlpack" key generate --output "$out/author"

step "mlpack create --output-of: the lineage of the fine-tuned weights, signed (the side experiment rides along as private history)"
side=$("$mlpack" runs --json | python3 -c 'import json,sys; print([r["id"] for r in json.load(sys.stdin)["runs"] if r.get("name") == "try-high-lr"][0])')
"$mlpack" create --output "$out/spirals.mlpack" --output-of finetuned.safetensors --run "$side" --note README.md \
    --title "Two-spirals MLP (mlpack demo)" --atol 1e-6 --metric-tolerance test_accuracy=0.01 \
    --created 2026-11-27T00:00:00Z --key "$out/author.key"

step "mlpack inspect"
"$mlpack" inspect "$out/spirals.mlpack"

step "mlpack inspect --graph: the lineage as a picture (out/demo/lineage.svg)"
"$mlpack" inspect "$out/spirals.mlpack" --graph "$out/lineage.svg"

step "mlpack extract"
"$mlpack" extract "$out/spirals.mlpack" --to "$out/extracted" --key "$out/author.pub"
cmp finetuned.safetensors "$out/extracted/artifacts/finetuned.safetensors" && echo "weights extracted bit for bit"
echo "stage 1's train.py (before the edit): $(grep -l 'default=0.5' "$out"/extracted/code/*/train.py)"
echo "stage 2's train.py (after the edit):  $(grep -l 'default=0.2' "$out"/extracted/code/*/train.py)"

step "mlpack verify, trusting the author's public key"
"$mlpack" verify "$out/spirals.mlpack" --key "$out/author.pub"

step "mlpack redact --public: publish it without private history (notes, host records, the side experiment)"
"$mlpack" redact "$out/spirals.mlpack" --output "$out/spirals-public.mlpack" --public --key "$out/author.key"
"$mlpack" verify "$out/spirals-public.mlpack" --key "$out/author.pub"
cmp <(tar --zstd -xOf "$out/spirals.mlpack" spirals/mlpack/manifest.json) \
    <(tar --zstd -xOf "$out/spirals-public.mlpack" spirals/mlpack/manifest.json) \
    && echo "the published pack carries the author's manifest byte for byte: the signature still verifies"

step "check it without mlpack: tar, sha256sum, bagit, minisign, an RO-Crate validator"
mkdir -p "$out/by-hand" && tar --zstd -xf "$out/spirals-public.mlpack" -C "$out/by-hand"
cd "$out/by-hand/spirals"
sha256sum --quiet -c manifest-sha256.txt && echo "sha256sum -c manifest-sha256.txt: all OK"
python3 -m bagit --quiet --validate . && echo "bagit --validate: valid bag"
minisign -Vm mlpack/manifest.json -p "$out/author.pub"
cd "$root" && python3 fixtures/ro-crate/validate-offline.py "$out/by-hand/spirals"

step "a reviewer: mlpack verify --rebuild replays the published pack's lineage in bubblewrap and compares every output"
# The data is referenced, not shipped: here the reviewer's cache is filled from the author's
# local copy (a real dataset would be fetched from its --data-uri).
"$mlpack" fetch "$out/spirals.mlpack" --cache "$out/data-cache"
# --python-env host: the demo trained with this machine's python3 and all its packages. A
# reviewer elsewhere leaves it out, and the rebuild builds that environment with uv.
"$mlpack" verify "$out/spirals-public.mlpack" --rebuild --python-env host --key "$out/author.pub" --cache "$out/data-cache" \
    --report "$out/rebuild-report.md" --report "$out/rebuild-report.html"

step "the report to paste into the review (out/demo/rebuild-report.md; to open in a browser: out/demo/rebuild-report.html)"
cat "$out/rebuild-report.md"

step "done: the pack and everything above are in out/demo/"
