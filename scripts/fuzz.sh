#!/usr/bin/env bash
# `make fuzz`: libFuzzer (with AddressSanitizer) on the pack reader and the comparison's
# readers, for FUZZ_SECONDS (default 600), seeded with the conformance corpus. A crash, a
# sanitizer report, a hang (-timeout) or a memory blow-up (-rss_limit_mb) stops the run with
# its input in out/fuzz/; turn it into a corpus entry in fixtures/conformance/make.py.
set -euo pipefail
seconds="${FUZZ_SECONDS:-600}"
build=.build-fuzz
MLPACK_FUZZ=1 swift build -c release --build-path "$build" --product mlpack-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld

corpus="$build/corpus"
mkdir -p "$corpus" out/fuzz
cp fixtures/conformance/packs/*.mlpack fixtures/compare/*.np[yz] fixtures/compare/*.json "$corpus/"
cp fixtures/gpu-h100/weights/*.json "$corpus/"

echo "fuzzing for ${seconds} s (corpus: $corpus, crashes: out/fuzz/)"
set +e
# No leak checks: LeakSanitizer counts Swift's one-time globals (lazily compiled regexes,
# caches: the same 148 allocations after 8,000 inputs as after 143,000) as leaks; memory that
# grows with the inputs is caught by -rss_limit_mb instead.
ASAN_OPTIONS=detect_leaks=0 "$build/release/mlpack-fuzz" "$corpus" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -detect_leaks=0 \
    -max_len=1048576 -artifact_prefix=out/fuzz/ -print_final_stats=1 > out/fuzz/last-run.log 2>&1
status=$?
set -e
grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb|^Done|ERROR|SUMMARY' out/fuzz/last-run.log || true
if [ "$status" -ne 0 ]; then
    echo "fuzz: the fuzzer stopped with status $status: see out/fuzz/ and out/fuzz/last-run.log" >&2
    exit 1
fi
echo "fuzz: no crash in ${seconds} s"
