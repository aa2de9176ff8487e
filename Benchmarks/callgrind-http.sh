#!/usr/bin/env bash
# Instructions per HTTP request on a web server (Benchmarks/README.md, "Instructions per request (callgrind)"): the
# server (release) under callgrind on CPU 0, netbench on CPU 1 sending a fixed number of keep-alive requests over 64
# connections, then SIGTERM so callgrind writes its totals. Two runs (30 and 90 requests per connection); start-up
# and shutdown cancel out in the difference:  per request = (I2 - I1) / (64 * 90 - 64 * 30).
#
#   Benchmarks/callgrind-http.sh hello-server / 33
#   Benchmarks/callgrind-http.sh rest-server /users 1093 --users 100    (PUT /user/1..100 first: a 1,093-byte list)
#   CG_NO_BUILD=1 ... (use the binaries already in .build-bench)
# Prints I1, I2 and the figure; /tmp/cg.30.out and /tmp/cg.90.out stay for callgrind_annotate.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 3 ] || { echo "usage: $0 PROGRAM PATH BODY_BYTES [--users N]" >&2; exit 2; }
PROGRAM=$1 TARGET_PATH=$2 BODY=$3
USERS=0
[ "${4:-}" = --users ] && USERS=${5:?--users needs a count}
B=.build-bench/release
if [ "${CG_NO_BUILD:-0}" != 1 ]; then
    swift build -c release --scratch-path .build-bench --product "$PROGRAM" >/dev/null
    swift build -c release --scratch-path .build-bench --product netbench >/dev/null
fi
run() { # REQUESTS PORT → instructions
    local n=$1 port=$2 pid
    taskset -c 0 valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.$n.out "$B/$PROGRAM" --port "$port" \
        --host 127.0.0.1 --quiet >/dev/null 2>/tmp/cg.$n.err &
    pid=$!
    taskset -c 1 "$B/netbench" probe --host 127.0.0.1 --port "$port" --probe http --timeout 60 >/dev/null
    if [ "$USERS" -gt 0 ]; then
        curl -s -o /dev/null -X PUT -H 'Content-Type: application/json' --data '{"name":"kim"}' \
            "http://127.0.0.1:$port/user/[1-$USERS]"
    fi
    taskset -c 1 "$B/netbench" http --host 127.0.0.1 --port "$port" --path "$TARGET_PATH" --connections 64 \
        --requests "$n" --duration 300 --expect-body "$BODY" >/dev/null
    kill -TERM "$pid"
    wait "$pid" || true
    grep -o "Collected : [0-9]*" /tmp/cg.$n.err | awk '{ print $3 }'
}
I1=$(run 30 23201)
I2=$(run 90 23202)
echo "I1=$I1 I2=$I2 instructions per request: $(( (I2 - I1) / (64 * 60) ))"
