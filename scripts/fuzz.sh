#!/usr/bin/env bash
# Builds the libFuzzer targets of Fuzz/ and runs each for FUZZ_SECONDS (issue 8: config parser, encryption envelope,
# JSON-RPC response, Retry-After, durations). `make test` runs it briefly; `make fuzz` for longer.
#
#   FUZZ_SECONDS   seconds per target (default 10; 0 only replays the seed corpora)
#   FUZZ_TARGETS   space-separated subset (default: all five)
#   FUZZ_JOBS      targets run at once (default 2)
#   FUZZ_SANITIZE  swiftc -sanitize= list (default "fuzzer"; "fuzzer,address" adds ASan, a slower build and run)
#
# Build: a separate package with its own scratch path (Fuzz/.build), so the main .build and `swift test` never see
# the sanitizer flags. `-sanitize=fuzzer` is passed to every Swift module (that is what gives libFuzzer coverage of
# the parsers in AsyncTaskTargets, AsyncTask and AsyncTaskWorker, and of Yams and swift-configuration under them);
# C code (BoringSSL, libyaml) is compiled without instrumentation. ASan is off by default: the parsers are safe
# Swift, whose out-of-bounds accesses and overflows trap anyway, and ASan roughly halves executions per second.
#
# Corpora: the committed seeds (Fuzz/Corpus/<target>) are read-only; what libFuzzer finds goes to
# Fuzz/.build/corpus/<target>, kept between runs. A crash, a timeout, a leak of memory past -rss_limit_mb or a
# violated invariant (FuzzCheck) leaves a reproducer in Fuzz/artifacts/<target>/ and fails the script, naming it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
fuzz=$root/Fuzz
seconds=${FUZZ_SECONDS:-10}
jobs=${FUZZ_JOBS:-2}
sanitize=${FUZZ_SANITIZE:-fuzzer}
targets=(${FUZZ_TARGETS:-FuzzRetryAfter FuzzDuration FuzzJSONRPC FuzzEnvelope FuzzConfig})

# Longest input and its dictionary per target: the config is YAML text, the others are header or body sized.
max_len() { case $1 in FuzzConfig) echo 4096 ;; FuzzEnvelope|FuzzJSONRPC) echo 2048 ;; *) echo 256 ;; esac; }
dict() {
    case $1 in
        FuzzConfig) echo config.dict ;;
        FuzzEnvelope|FuzzJSONRPC) echo jsonrpc.dict ;;
        *) echo http-date.dict ;;
    esac
}

start=$(date +%s)
echo "fuzz: building ${targets[*]} (-sanitize=$sanitize) in Fuzz/.build"
mkdir -p "$fuzz/.build"
if ! swift build --package-path "$fuzz" --scratch-path "$fuzz/.build" -c debug \
    -Xswiftc "-sanitize=$sanitize" >"$fuzz/.build/build.log" 2>&1; then
    grep -v '^\[' "$fuzz/.build/build.log" | tail -40 >&2
    echo "fuzz: the build failed (full log: Fuzz/.build/build.log)" >&2
    exit 1
fi
bin=$(swift build --package-path "$fuzz" --scratch-path "$fuzz/.build" -c debug --show-bin-path)
if (( seconds > 0 )); then what="running each target for ${seconds}s, $jobs at a time"; else what="replaying the corpora"; fi
echo "fuzz: built in $(( $(date +%s) - start ))s; $what"

logs=$fuzz/.build/logs
mkdir -p "$logs"
# Swift's crash backtracer would catch a trap first and end the process before libFuzzer's handler writes the
# reproducer; libFuzzer prints its own stack.
export SWIFT_BACKTRACE=enable=no
run_one() {
    local target=$1
    local corpus=$fuzz/.build/corpus/$target artifacts=$fuzz/artifacts/$target
    mkdir -p "$corpus" "$artifacts"
    # -timeout: one input taking 10 s is a hang; -rss_limit_mb: a parser must not balloon on a 4 KiB input.
    # The first corpus dir receives new inputs; the committed seeds stay as they are.
    local status=0 budget=(-max_total_time="$seconds")
    # libFuzzer reads -max_total_time=0 as "forever"; 0 here means: run the corpora once and stop.
    (( seconds > 0 )) || budget=(-runs=0)
    ("$bin/$target" "$corpus" "$fuzz/Corpus/$target" \
        "${budget[@]}" -max_len="$(max_len "$target")" -timeout=10 -rss_limit_mb=2048 \
        -dict="$fuzz/Dictionaries/$(dict "$target")" -artifact_prefix="$artifacts/" -print_final_stats=1) \
        >"$logs/$target.log" 2>&1 || status=$?
    echo "$status" >"$logs/$target.status"
}

failed=()
for target in "${targets[@]}"; do rm -f "$logs/$target.status"; done
for target in "${targets[@]}"; do
    while (( $(jobs -rp | wc -l) >= jobs )); do wait -n || true; done
    run_one "$target" &
done
wait
for target in "${targets[@]}"; do
    if [[ $(cat "$logs/$target.status" 2>/dev/null) == 0 ]]; then
        # e.g. "#48213 DONE cov: 812 ft: 2204 corp: 160/9Kb lim: 256 exec/s: 4821 rss: 61Mb"
        line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$logs/$target.log" | tail -1 || true)
        echo "fuzz: $target ok: ${line:-$(tail -1 "$logs/$target.log")}"
    else
        failed+=("$target")
        reproducer=$(grep -oE "Test unit written to [^ ]+" "$logs/$target.log" | tail -1 | awk "{print \$NF}" || true)
        echo "fuzz: $target FAILED; reproducer: ${reproducer:-see the log}; log: $logs/$target.log" >&2
        grep -E 'invariant violated|Fatal error|ERROR: libFuzzer|SUMMARY|^input:' "$logs/$target.log" | head -8 >&2 || true
        echo "  replay: $bin/$target ${reproducer:-<reproducer>}" >&2
    fi
done
echo "fuzz: done in $(( $(date +%s) - start ))s"
if (( ${#failed[@]} > 0 )); then
    echo "fuzz: FAILED: ${failed[*]} (reproducers in Fuzz/artifacts/)" >&2
    exit 1
fi
