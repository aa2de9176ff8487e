#!/usr/bin/env bash
# Fuzzes the pure parsers with libFuzzer, which ships with the Swift toolchain on Linux. No SwiftPM: each target is
# compiled from the pure source files it needs, Fuzz/Support/*.swift and its entry file Fuzz/<target>.swift, with
# `swiftc -sanitize=fuzzer,address`.
#
#   scripts/fuzz.sh [--seconds N] [--fresh] [--build-only] [--skip-regressions] [target...]
#
#   target              fuzz-http-request, fuzz-chunked, fuzz-utf8, fuzz-query (default: all, one after another)
#   --seconds N         fuzzing time per target (default 30, the CI budget)
#   --fresh             start from the committed seeds only, dropping what earlier runs added to the working corpus
#   --build-only        compile the targets and stop
#   --skip-regressions  do not replay Fuzz/regressions/<target>/ (known findings, which fail until fixed)
#
# Everything goes under .build-fuzz/ (ignored by git): bin/ the binaries, logs/ build and run logs, corpus/<target>/ the
# working corpus (the committed seeds Fuzz/corpus/<target>/ are copied in, so new entries never dirty the repository),
# artifacts/<target>/ what libFuzzer saves on a finding. Replay a saved input with `.build-fuzz/bin/<target> <file>`.
#
# Exit status: 0 no finding; 1 a finding (crash, failed invariant, timeout, leak, out of memory) or a failing
# regression input; 2 usage or build error. Heavy on CPU: on a shared machine run it under `nice -n 19`.
set -euo pipefail
SCRIPT="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$SCRIPT")/.."

ALL_TARGETS=(fuzz-http-request fuzz-chunked fuzz-utf8 fuzz-query)
OUT=.build-fuzz
SWIFTC=${SWIFTC:-swiftc}

usage() {
    sed -n '2,/^set -euo/p' "$SCRIPT" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
}

seconds=30
fresh=0
build_only=0
skip_regressions=0
targets=()
while (($#)); do
    case $1 in
        --seconds)
            [[ ${2:-} =~ ^[0-9]+$ ]] || usage
            seconds=$2
            shift 2
            ;;
        --seconds=*)
            seconds=${1#--seconds=}
            [[ $seconds =~ ^[0-9]+$ ]] || usage
            shift
            ;;
        --fresh) fresh=1; shift ;;
        --build-only) build_only=1; shift ;;
        --skip-regressions) skip_regressions=1; shift ;;
        -h | --help) usage ;;
        -*) echo "unknown option: $1" >&2; usage ;;
        *)
            [[ " ${ALL_TARGETS[*]} " == *" $1 "* ]] || { echo "unknown target: $1 (have: ${ALL_TARGETS[*]})" >&2; exit 2; }
            targets+=("$1")
            shift
            ;;
    esac
done
((${#targets[@]})) || targets=("${ALL_TARGETS[@]}")

# The source files of a target: the pure sources under test (none of them imports NetCore), then the fuzz files.
sources() {
    local http=Sources/NetCoreHTTP
    case $1 in
        fuzz-http-request | fuzz-chunked)
            echo "$http/HTTPTypes.swift $http/LineReader.swift $http/ChunkedDecoder.swift $http/ChunkedEncoder.swift" \
                "$http/HTTPRequestParser.swift $http/RequestTargetSyntax.swift $http/HTTPResponseParser.swift"
            ;;
        fuzz-utf8) echo Sources/NetCore/Encoding/UTF8StreamDecoder.swift ;;
        fuzz-query) echo Sources/NetCoreHTTP/RequestTarget.swift ;;
    esac
    echo Fuzz/Support/*.swift "Fuzz/$1.swift"
}

dictionary() {
    case $1 in
        fuzz-http-request | fuzz-chunked) echo Fuzz/dict/http.dict ;;
    esac
}

mkdir -p "$OUT/bin" "$OUT/logs"

# Builds one target; rebuilds only when a source file or this script is newer than the binary.
build() {
    local target=$1 binary="$OUT/bin/$1" log="$OUT/logs/$1-build.log"
    local files
    read -r -a files <<<"$(sources "$target" | tr '\n' ' ')"
    if [[ -x $binary ]] && [[ -z $(find "${files[@]}" "$SCRIPT" -newer "$binary" 2>/dev/null) ]]; then
        return 0
    fi
    local module
    module=$(echo "$target" | sed -E 's/(^|-)([a-z])/\U\2/g')  # fuzz-http-request -> FuzzHttpRequest
    echo "== build $target" >&2
    # The linker's "Cannot export local symbol '__asan_…'" warnings are noise from the toolchain's runtime.
    # -package-name: the sources use `package` access, as they do inside the package's own build.
    if ! "$SWIFTC" -sanitize=fuzzer,address -parse-as-library -swift-version 6 -O -g -warnings-as-errors \
        -module-name "$module" -package-name NetCore "${files[@]}" -o "$binary" >"$log" 2>&1; then
        grep -v "Cannot export local symbol" "$log" >&2 || true
        echo "FAIL: building $target (log: $log); libFuzzer needs the Linux Swift toolchain" >&2
        return 1
    fi
    grep -v "Cannot export local symbol" "$log" >&2 || true
}

for target in "${targets[@]}"; do
    build "$target" || exit 2
done
((build_only)) && exit 0

# Replays each committed regression input; prints "N pass" or "failing/total FAIL".
replay() {
    local target=$1 dir="Fuzz/regressions/$1" failing=0 total=0 file
    [[ -d $dir ]] || { echo "-"; return; }
    for file in "$dir"/*; do
        [[ -f $file && $file != *.md ]] || continue
        total=$((total + 1))
        if ! SWIFT_BACKTRACE=enable=no "$OUT/bin/$target" "$file" >"$OUT/logs/$target-replay-$(basename "$file").log" 2>&1
        then
            failing=$((failing + 1))
            echo "REGRESSION: $file still fails (log: $OUT/logs/$target-replay-$(basename "$file").log)" >&2
        fi
    done
    if ((!total)); then echo "-"; elif ((failing)); then echo "$failing/$total FAIL"; else echo "$total pass"; fi
}

status=0
rows=()
for target in "${targets[@]}"; do
    corpus="$OUT/corpus/$target"
    artifacts="$OUT/artifacts/$target/"
    log="$OUT/logs/$target.log"
    ((fresh)) && rm -rf "$corpus"
    mkdir -p "$corpus" "$artifacts"
    cp -R "Fuzz/corpus/$target/." "$corpus/"

    regressions="-"
    if ((!skip_regressions)); then
        regressions=$(replay "$target")
        if [[ $regressions == *FAIL ]]; then status=1; fi
    fi

    marker="$OUT/logs/$target.started"
    touch "$marker"
    options=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1
        -artifact_prefix="$artifacts")
    dict=$(dictionary "$target")
    [[ -n $dict ]] && options+=(-dict="$dict")
    echo "== fuzz $target for ${seconds}s (log: $log)" >&2
    start=$(date +%s)
    code=0
    # SWIFT_BACKTRACE=enable=no: on a trap the Swift runtime's backtracer would otherwise hold the run for seconds.
    SWIFT_BACKTRACE=enable=no timeout -k 10 -s INT $((seconds + 120)) \
        "$OUT/bin/$target" "$corpus" "${options[@]}" >"$log" 2>&1 || code=$?
    elapsed=$(($(date +%s) - start))

    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    [[ -n $execs ]] || execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
    found=$(find "$artifacts" -type f -newer "$marker" | head -1)
    if [[ -n $found ]]; then
        kind=$(basename "$found" | cut -d- -f1)
        result="FINDING ($kind): $found"
        status=1
    elif ((code != 0)); then
        result="FAILED (exit $code, see $log)"
        status=1
    else
        result="ok"
    fi
    if [[ $result != ok ]]; then
        echo "-- $target: $result" >&2
        grep -E "INVARIANT FAILED|Fatal error|ERROR: (AddressSanitizer|libFuzzer)|SUMMARY" "$log" | head -5 >&2 || true
        [[ -n $found ]] && echo "   replay: $OUT/bin/$target $found" >&2
    fi
    rows+=("$target|${execs:-?}|$elapsed|$regressions|$result")
done

echo
printf '%-18s %12s %8s  %-12s %s\n' target execs seconds regressions result
for row in "${rows[@]}"; do
    IFS='|' read -r target execs elapsed regressions result <<<"$row"
    printf '%-18s %12s %8s  %-12s %s\n' "$target" "$execs" "$elapsed" "$regressions" "$result"
done
exit $status
