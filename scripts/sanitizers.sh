#!/usr/bin/env bash
# Runs the test suite under AddressSanitizer and/or ThreadSanitizer, each in its own scratch path so it never touches
# the normal .build/ (address: .build-asan, thread: .build-tsan; both ignored by git).
#
#   scripts/sanitizers.sh [--leaks] [address|thread]... [-- extra swift test arguments, e.g. --filter HTTP]
#
# With no sanitizer named, runs address, then thread (one at a time: each is a full build plus the whole suite).
# Prints, per sanitizer, the time taken, the test summary lines and every distinct sanitizer report (its SUMMARY line:
# kind, file:line, function); the full log is <scratch>/sanitizer-test.log. A run fails if `swift test` fails or the
# sanitizer reported anything (ThreadSanitizer only warns by default; reports are counted here). A report printed by
# a child process (echo-server, unix-http) shows up inside the failing test's message and is counted too.
#
# AddressSanitizer runs with ASAN_OPTIONS=detect_leaks=0:quarantine_size_mb=16 (yours are appended, and win):
#   - LeakSanitizer reports at exit turn a child's exit status into 1 and add ~200 lines to its stderr, which fails
#     every test that checks an exit status or stderr (9 of them); --leaks turns it back on to see those reports.
#   - The default 256 MiB quarantine alone exceeds the 64 MiB RSS bound of the 200 MB streaming test.
# Heavy on CPU: on a shared machine run it under `nice -n 19`.
#
# Exit status: 0 every run passed clean; 1 a run failed or reported; 2 usage error.
set -euo pipefail
SCRIPT="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$SCRIPT")/.."

usage() {
    sed -n '2,/^set -euo/p' "$SCRIPT" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
}

sanitizers=()
extra=()
leaks=0
while (($#)); do
    case $1 in
        --leaks) leaks=1; shift ;;
        address | thread) sanitizers+=("$1"); shift ;;
        --) shift; extra=("$@"); break ;;
        -h | --help) usage ;;
        *) echo "unknown argument: $1" >&2; usage ;;
    esac
done
((${#sanitizers[@]})) || sanitizers=(address thread)

status=0
rows=()
for sanitizer in "${sanitizers[@]}"; do
    case $sanitizer in
        address) scratch=.build-asan ;;
        thread) scratch=.build-tsan ;;
    esac
    mkdir -p "$scratch"
    log="$scratch/sanitizer-test.log"
    echo "== swift test --sanitize=$sanitizer --scratch-path $scratch ${extra[*]:-}  (log: $log)" >&2
    start=$(date +%s)
    code=0
    # halt_on_error=0: report every race, not just the first. ASan stops at its first error whatever the option says.
    TSAN_OPTIONS="halt_on_error=0 ${TSAN_OPTIONS:-}" \
        ASAN_OPTIONS="detect_leaks=$leaks:quarantine_size_mb=16:suppressions=$PWD/scripts/asan.supp${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
        swift test --sanitize="$sanitizer" --scratch-path "$scratch" ${extra[@]+"${extra[@]}"} >"$log" 2>&1 || code=$?
    elapsed=$(($(date +%s) - start))

    echo "-- $sanitizer: exit $code after ${elapsed}s" >&2
    # XCTest's and swift-testing's summary lines, then build errors if the build failed.
    grep -E "^(Test Suite 'All tests'|	 Executed|Executed [0-9]+ tests?)|Test run with [0-9]+ tests?|error:" "$log" \
        | sort -u | head -20 >&2 || true
    # A report starts with "WARNING: ThreadSanitizer: …" or "==pid==ERROR: AddressSanitizer: …" and ends with a SUMMARY
    # line; the same report quoted twice (a child's stderr in two expectations) counts once.
    distinct=$(awk '
        /(^|==[0-9]+==)(WARNING|ERROR): (ThreadSanitizer|AddressSanitizer|LeakSanitizer)/ {
            sub(/^[ \t]+/, ""); header = $0 }
        /^[ \t]*SUMMARY: (ThreadSanitizer|AddressSanitizer|LeakSanitizer)/ && header != "" {
            sub(/^[ \t]+/, ""); print header " => " $0; header = "" }
    ' "$log" | sort -u)
    reports=0
    [[ -z $distinct ]] || reports=$(wc -l <<<"$distinct")
    if ((reports)); then
        echo "-- $reports distinct sanitizer report(s), by SUMMARY line (count, report):" >&2
        sed 's/.* => //; s/ (.*+0x[0-9a-f]*)//' <<<"$distinct" | sort | uniq -c | sort -rn >&2
    fi
    failed_tests=$(grep -cE "(error: -\[|✘ Test .* (failed|recorded an issue))" "$log" || true)
    if ((code != 0 || reports != 0)); then
        result="FAIL"
        status=1
    else
        result="ok"
    fi
    rows+=("$sanitizer|$elapsed|$code|$reports|$failed_tests|$result")
done

echo
printf '%-9s %8s %6s %8s %13s  %s\n' sanitizer seconds exit reports failed-tests result
for row in "${rows[@]}"; do
    IFS='|' read -r sanitizer elapsed code reports failed_tests result <<<"$row"
    printf '%-9s %8s %6s %8s %13s  %s\n' "$sanitizer" "$elapsed" "$code" "$reports" "$failed_tests" "$result"
done
exit $status
