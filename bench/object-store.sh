#!/usr/bin/env bash
# s3:// data (issue 21), as a Markdown section on standard output: a 1,000-file dataset on a
# real S3 protocol server on loopback (moto, credentials checked), fetched by `mlpack fetch`
# into an empty cache (eight requests in flight, each file verified) against `curl` getting
# the same objects one after the other (signed the same way, nothing verified), and
# `mlpack data push` of the same files. No `aws` CLI is installed offline to compare with.
# Usage: bench/object-store.sh [ROUNDS] (default 3).
source "$(dirname "$0")/common.sh"
rounds="${1:-3}"
work="${BENCH_WORK:-${TMPDIR:-/tmp}/mlpack-bench}/object-store"
rm -rf "$work" && mkdir -p "$work/code" && cd "$work"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
endpoint="http://127.0.0.1:$port"
INITIAL_NO_AUTH_ACTION_COUNT=3 moto_server -H 127.0.0.1 -p "$port" >moto.log 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null' EXIT
for _ in $(seq 100); do curl -fs -o /dev/null "$endpoint/moto-api/" && break; sleep 0.1; done
iam() { curl -fsS --aws-sigv4 aws:amz:us-east-1:iam --user setup:setup "$endpoint/" "$@"; }
iam -d 'Action=CreateUser&UserName=bench&Version=2010-05-08' >/dev/null
iam -d 'Action=CreateAccessKey&UserName=bench&Version=2010-05-08' >key.xml
iam --data-urlencode Action=PutUserPolicy --data-urlencode UserName=bench --data-urlencode PolicyName=s3 \
    --data-urlencode Version=2010-05-08 \
    --data-urlencode 'PolicyDocument={"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}' >/dev/null
export AWS_ENDPOINT_URL="$endpoint" AWS_REGION=us-east-1
AWS_ACCESS_KEY_ID=$(sed -n 's:.*<AccessKeyId>\(.*\)</AccessKeyId>.*:\1:p' key.xml)
AWS_SECRET_ACCESS_KEY=$(sed -n 's:.*<SecretAccessKey>\(.*\)</SecretAccessKey>.*:\1:p' key.xml)
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
s3curl=(curl -fsS --aws-sigv4 aws:amz:us-east-1:s3 --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")
"${s3curl[@]}" -X PUT "$endpoint/bench" >/dev/null

# 1,000 files of 1–64 KiB (about 32 MiB).
python3 - <<'PY'
import os, random
random.seed(21)
for i in range(1000):
    os.makedirs(f"dataset/part{i // 100}", exist_ok=True)
    with open(f"dataset/part{i // 100}/{i:04d}.bin", "wb") as f:
        f.write(os.urandom(random.randint(1, 64) * 1024))
PY
echo "print('x')" > code/train.py
"$mlpack" create -o p.mlpack --code code --data ds=dataset --data-uri ds=s3://bench/ds/ --unsigned -q >/dev/null
(cd dataset && find . -type f | sed 's|^\./||' | sort) > keys
: > push.t; : > fetch.t; : > curl.t
for _ in $(seq "$rounds"); do
    seconds "$mlpack" data push p.mlpack ds s3://bench/ds/ -q >> push.t
done
mv dataset dataset-away  # fetch must go to the store
for _ in $(seq "$rounds"); do
    rm -rf cache && seconds "$mlpack" fetch p.mlpack --cache cache -q >> fetch.t
    [ "$(ls cache/blobs/sha256 | wc -l)" = 1000 ] || { echo "bench: fetch did not bring 1,000 files" >&2; exit 1; }
    rm -rf got && mkdir got
    seconds sh -c 'while read -r key; do "$@" -o "got/$(echo "$key" | tr / _)" "'"$endpoint"'/bench/ds/$key"; done < keys' sh "${s3curl[@]}" >> curl.t
done
bytes=$(du -sb dataset-away | cut -f1)
push=$(median < push.t); fetch=$(median < fetch.t); sequential=$(median < curl.t)
mbps() { echo "scale=1; $bytes / 1048576 / $1" | bc; }
echo
echo "## Data on an object store (issue 21)"
echo
echo "1,000 files, $((bytes / 1048576)) MiB, on moto $(python3 -c 'import importlib.metadata as m; print(m.version("moto"))') (an S3 protocol server in Python) on loopback; median of $rounds rounds."
echo
echo "| | time | throughput | ratio to curl in sequence |"
echo "|---|---|---|---|"
echo "| \`mlpack fetch\` into an empty cache (8 in flight, every file verified) | $fetch s | $(mbps "$fetch") MiB/s | **$(echo "scale=3; $fetch / $sequential" | bc | sed 's/^\./0./')** |"
echo "| \`curl\` of the same objects one after the other (signed, not verified) | $sequential s | $(mbps "$sequential") MiB/s | 1 |"
echo "| \`mlpack data push\` (8 in flight, every file hashed on the way out) | $push s | $(mbps "$push") MiB/s | |"
