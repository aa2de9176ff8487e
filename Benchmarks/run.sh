#!/usr/bin/env bash
# Benchmarks/run.sh — NetCore side by side with Node, C and nginx, measured in the same run.
#
#   Benchmarks/run.sh            full run: every point 3 times, BENCH_DURATION (5 s) each after a 1 s warm-up
#                                (about 9-10 minutes on 2 cores, build included)
#   Benchmarks/run.sh --quick    smoke test: 1 s per point, 1 run (proves the harness works; not a measurement)
#   Benchmarks/run.sh --only 'hello-64c http-idle-10k'   only these points (ids: see the list at "the points";
#                                commas work too); same as BENCH_ONLY
#
# Builds NetCore in release mode (its own scratch path, .build-bench), compiles the C peers and shared/tools/
# loadgen.c, installs nginx-light with apt-get when nginx is missing (as root), starts every server itself (a
# fresh process for each measurement, stopped right after), pins servers and the load generator to different
# CPUs when there are at least two, and prints a table of medians with the ratio of NetCore's figure to each
# peer's. The table goes to BENCHMARKS.md at the repository root (override with BENCH_OUT) with the date and the machine.
#
# Environment: BENCH_DURATION (s, default 5; --quick: 1), BENCH_WARMUP (s, 1; --quick 0.5), BENCH_RUNS (3;
# --quick 1), BENCH_IDLE_CONNS (10000), BENCH_BIG_MB (1024), BENCH_OUT, BENCH_PORT (first TCP port, 23100),
# BENCH_SERVER_CPU (0), BENCH_CLIENT_CPU (1), BENCH_KEEP=1 (keep the temporary directory with every log),
# BENCH_SKIP_BUILD=1 (use the binaries already in .build-bench), BENCH_ONLY (space-separated point ids to run),
# BENCH_HTTP_IDLE_CONNS (10000; --quick 1000), BENCH_REST_USERS (users in the map for rest-users-64c, 100),
# BENCH_FROM_RESULTS=FILE (measure nothing: rebuild the tables from the results.txt of a run kept with BENCH_KEEP=1,
# e.g. after editing the report text; give the same BENCH_DURATION/BENCH_RUNS/--quick as that run),
# BENCH_NOTE (a sentence added to the machine notes of BENCHMARKS.md, e.g. where rebuilt results came from).
set -uo pipefail

usage() { sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; }

QUICK=0
ONLY=${BENCH_ONLY:-}
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --only)
            [ $# -ge 2 ] || { echo "run.sh: --only needs a list of point ids" >&2; exit 2; }
            ONLY=$(echo "$2" | tr ',' ' '); shift ;;
        --only=*) ONLY=$(echo "${1#--only=}" | tr ',' ' ') ;;
        -h | --help) usage; exit 0 ;;
        *) echo "run.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
# shared/ sits next to the repository (main checkout) or one level further up (a worktree under wt/).
SHARED=${BENCH_SHARED:-$(dirname "$ROOT")/shared}
[ -n "${BENCH_SHARED:-}" ] || [ -d "$SHARED" ] || SHARED=$(dirname "$(dirname "$ROOT")")/shared
if [ "$QUICK" = 1 ]; then
    DURATION=${BENCH_DURATION:-1}; WARMUP=${BENCH_WARMUP:-0.5}; RUNS=${BENCH_RUNS:-1}
    HOLD=1; LINGER=0.5; STARTUP_REPEAT=3
else
    DURATION=${BENCH_DURATION:-5}; WARMUP=${BENCH_WARMUP:-1}; RUNS=${BENCH_RUNS:-3}
    HOLD=3; LINGER=1; STARTUP_REPEAT=5
fi
IDLE_CONNS=${BENCH_IDLE_CONNS:-10000}
if [ "$QUICK" = 1 ]; then HTTP_IDLE_CONNS=${BENCH_HTTP_IDLE_CONNS:-1000}; else HTTP_IDLE_CONNS=${BENCH_HTTP_IDLE_CONNS:-10000}; fi
REST_USERS=${BENCH_REST_USERS:-100}
# The web servers' idle keep-alive connections must outlive the idle point (NetCore's and Node's default is 5 s).
KEEP_ALIVE_MS=600000
BIG_MB=${BENCH_BIG_MB:-1024}
OUT=${BENCH_OUT:-$HERE/../BENCHMARKS.md}
PORT=${BENCH_PORT:-23100}
STARTED_AT=$(date +%s)
FROM_RESULTS=${BENCH_FROM_RESULTS:-}
if [ -n "$FROM_RESULTS" ]; then
    [ -f "$FROM_RESULTS" ] || { echo "run.sh: BENCH_FROM_RESULTS: no file $FROM_RESULTS" >&2; exit 2; }
    BENCH_SKIP_BUILD=1
fi

WORK=$(mktemp -d /tmp/netbench.XXXXXX)
chmod 755 "$WORK"
mkdir -p "$WORK/logs" "$WORK/files" "$WORK/s"
RESULTS="$WORK/results.txt"
: >"$RESULTS"
[ -n "$FROM_RESULTS" ] && cp "$FROM_RESULTS" "$RESULTS"
SPID=""

cleanup() {
    [ -n "$SPID" ] && stop_server
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        echo "logs kept in $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'echo "run.sh: interrupted" >&2; exit 130' INT TERM

say() { printf '%s\n' "$*" >&2; }

# ---------------------------------------------------------------- build
BIN="$ROOT/.build-bench/release"
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    say "== building NetCore (release, --scratch-path .build-bench)"
    if ! (cd "$ROOT" && swift build -c release --scratch-path .build-bench 2>&1 | tail -n 3); then
        say "run.sh: the release build failed"; exit 1
    fi
fi
for program in netbench echo-server unix-http hello-server rest-server; do
    [ -x "$BIN/$program" ] || { say "run.sh: $BIN/$program is missing (build failed?)"; exit 1; }
done
NETBENCH="$BIN/netbench"
"$NETBENCH" selftest >&2 || { say "run.sh: netbench selftest failed"; exit 1; }

say "== compiling the C peers"
cc -O2 -Wall -Wextra -o "$WORK/echo-epoll" "$HERE/peers/echo-epoll.c" || { say "run.sh: echo-epoll.c does not compile"; exit 1; }
HAVE_LOADGEN=0
if [ -f "$SHARED/tools/loadgen.c" ] && cc -O2 -pthread -o "$WORK/loadgen" "$SHARED/tools/loadgen.c" 2>"$WORK/logs/loadgen-cc.log"; then
    HAVE_LOADGEN=1
else
    say "run.sh: no loadgen ($SHARED/tools/loadgen.c missing or not compiling): the cross-check is skipped"
fi

HAVE_NODE=0
command -v node >/dev/null 2>&1 && HAVE_NODE=1
[ "$HAVE_NODE" = 1 ] || say "run.sh: node is not installed: the Node peers are skipped"

HAVE_NGINX=0
NGINX=$(command -v nginx || true)
[ -z "$NGINX" ] && [ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx
if [ -z "$NGINX" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "== installing nginx-light (apt-get)"
    # The package's postinst would start the system service; the container's policy-rc.d (if any) prevents it,
    # and run.sh never uses that service: it runs its own nginx under a temporary prefix.
    if { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light; } >"$WORK/logs/apt.log" 2>&1; then
        NGINX=$(command -v nginx || echo /usr/sbin/nginx)
    else
        say "run.sh: apt-get install nginx-light failed (see below): the nginx peer is skipped"; tail -n 5 "$WORK/logs/apt.log" >&2
    fi
fi
[ -n "$NGINX" ] && [ -x "$NGINX" ] && HAVE_NGINX=1

# ---------------------------------------------------------------- machine and pinning
NPROC=$(nproc)
SERVER_CPU=${BENCH_SERVER_CPU:-0}
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
if [ "$NPROC" -ge 2 ] && command -v taskset >/dev/null 2>&1; then
    PIN_SERVER=(taskset -c "$SERVER_CPU")
    PIN_CLIENT=(taskset -c "$CLIENT_CPU")
    PINNING="Servers on CPU $SERVER_CPU, load generator on CPU $CLIENT_CPU (taskset); the same-CPU point puts both on CPU $SERVER_CPU"
else
    PIN_SERVER=(); PIN_CLIENT=()
    PINNING="No pinning (fewer than 2 CPUs or no taskset)"
fi
PIN_SAME=("${PIN_SERVER[@]}")

# ---------------------------------------------------------------- files served
printf 'NetCore benchmark file, 1 KiB of text.\n' >"$WORK/files/file1k.txt"
head -c 4096 /dev/urandom | od -An -tx1 | tr -d ' \n' | head -c $((1024 - 40)) >>"$WORK/files/file1k.txt"
FILE1K_BYTES=$(wc -c <"$WORK/files/file1k.txt")
COUNTER_BYTES=290 # "0\n".."99\n", sent before the file by unix-http and the Node seed servers
BIG_BYTES=$((BIG_MB * 1048576))
chmod 755 "$WORK/files"

make_big_file() {
    [ -f "$WORK/files/big.txt" ] && return 0
    say "== writing a ${BIG_MB} MiB file"
    yes 'NetCore streams this line from disk to a single client, 64 bytes.' | head -c "$BIG_BYTES" >"$WORK/files/big.txt"
    chmod 644 "$WORK/files/big.txt"
}

# The TLS points' certificate: ECDSA P-256 (the issue's handshake figure is for one), made once per run.
TLS_CERT="$WORK/tls-cert.pem"
TLS_KEY="$WORK/tls-key.pem"
if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TLS_KEY" -out "$TLS_CERT" \
    -days 7 -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >"$WORK/logs/openssl.log" 2>&1; then
    say "run.sh: openssl could not make the TLS points' certificate (see below): those points will fail"
    tail -n 3 "$WORK/logs/openssl.log" >&2
fi
# sed expressions for nginx's @SSL@/@SSL_LINES@: plain, or TLS (NGINX_SSL=1) with the certificate above and
# nginx's defaults otherwise (TLSv1.2 and 1.3, session tickets on, as the NetCore and Node servers have them).
nginx_ssl_sed() { # sets NGINX_SED (sed arguments)
    if [ "${NGINX_SSL:-0}" = 1 ]; then
        NGINX_SED=(-e "s|@SSL@| ssl|g" -e "s|@SSL_LINES@|ssl_certificate $TLS_CERT; ssl_certificate_key $TLS_KEY;|g")
    else
        NGINX_SED=(-e "s|@SSL@||g" -e "s|@SSL_LINES@||g")
    fi
}

# CPU time (user + system) of a process tree, in clock ticks.
cpu_ticks() {
    local pid=$1 total child
    total=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null)
    [ -n "$total" ] || { echo 0; return; }
    for child in $(cat "/proc/$pid/task/$pid/children" 2>/dev/null); do
        total=$((total + $(cpu_ticks "$child")))
    done
    echo "$total"
}
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)

# ---------------------------------------------------------------- servers
# start_server KIND — starts a fresh server; sets SPID (its pid), TARGET (netbench's target options) and PROBE.
next_port() {
    while :; do
        PORT=$((PORT + 1))
        "$NETBENCH" probe --port "$PORT" --timeout 0.01 >/dev/null 2>&1 || return 0 # nobody there: free
    done
}

SOCKETS=0
start_server() {
    local kind=$1 log="$WORK/logs/server-$2.log"
    # SHARED_CPUS=1 (the workers point): the server may run on every CPU, so its threads can spread out.
    local PIN_SERVER=("${PIN_SERVER[@]}")
    [ "${SHARED_CPUS:-0}" = 1 ] && PIN_SERVER=()
    SOCKETS=$((SOCKETS + 1))
    local sock="$WORK/s/$SOCKETS.sock"
    case $kind in
        netcore-echo) next_port; TARGET=(--port "$PORT"); PROBE=echo
            "${PIN_SERVER[@]}" "$BIN/echo-server" --port "$PORT" --quiet >"$log" 2>&1 & ;;
        netcore-echo-w2) next_port; TARGET=(--port "$PORT"); PROBE=echo
            "${PIN_SERVER[@]}" "$BIN/echo-server" --port "$PORT" --quiet --workers 2 >"$log" 2>&1 & ;;
        node-echo) next_port; TARGET=(--port "$PORT"); PROBE=echo
            "${PIN_SERVER[@]}" node "$HERE/peers/echo-server.js" "$PORT" >"$log" 2>&1 & ;;
        c-echo) next_port; TARGET=(--port "$PORT"); PROBE=echo
            "${PIN_SERVER[@]}" "$WORK/echo-epoll" "$PORT" >"$log" 2>&1 & ;;
        netcore-hello | netcore-hello-w1 | netcore-hello-w2)
            local workers=()
            [ "$kind" = netcore-hello-w1 ] && workers=(--workers 1)
            [ "$kind" = netcore-hello-w2 ] && workers=(--workers 2)
            next_port; TARGET=(--port "$PORT"); PROBE=http
            "${PIN_SERVER[@]}" "$BIN/hello-server" --port "$PORT" --host 127.0.0.1 --quiet \
                --keep-alive-timeout "$KEEP_ALIVE_MS" "${workers[@]}" >"$log" 2>&1 & ;;
        node-hello) next_port; TARGET=(--port "$PORT"); PROBE=http
            # The seed's own server1.js, as the side-by-side tests run it (the port from PORT).
            PORT="$PORT" "${PIN_SERVER[@]}" node "$ROOT/Tests/fixtures/seeds/server1.js" >"$log" 2>&1 & ;;
        nginx-hello)
            local prefix="$WORK/nginx-$SOCKETS"
            mkdir -p "$prefix"
            local user_line=""
            [ "$(id -u)" = 0 ] && user_line="user root;"
            next_port
            nginx_ssl_sed
            sed -e "s|@PREFIX@|$prefix|g" -e "s|@PORT@|$PORT|g" -e "s|@USER@|$user_line|g" "${NGINX_SED[@]}" \
                "$HERE/peers/nginx-hello.conf" >"$prefix/nginx.conf"
            TARGET=(--port "$PORT"); PROBE=http; [ "${NGINX_SSL:-0}" = 1 ] && PROBE=connect
            "${PIN_SERVER[@]}" "$NGINX" -p "$prefix" -c "$prefix/nginx.conf" >"$log" 2>&1 & ;;
        netcore-rest) next_port; TARGET=(--port "$PORT"); PROBE=http
            "${PIN_SERVER[@]}" "$BIN/rest-server" --port "$PORT" --host 127.0.0.1 --quiet >"$log" 2>&1 & ;;
        node-rest) next_port; TARGET=(--port "$PORT"); PROBE=http
            "${PIN_SERVER[@]}" node "$HERE/peers/restServer.js" "$PORT" --quiet >"$log" 2>&1 & ;;
        netcore-http) TARGET=(--unix "$sock"); PROBE=http
            "${PIN_SERVER[@]}" "$BIN/unix-http" --socket "$sock" --root "$WORK/files" --quiet >"$log" 2>&1 & ;;
        node-seed) TARGET=(--unix "$sock"); PROBE=http
            "${PIN_SERVER[@]}" node "$HERE/peers/unix-http-seed.js" "$sock" "$WORK/files" >"$log" 2>&1 & ;;
        node-onechunk) TARGET=(--unix "$sock"); PROBE=http
            "${PIN_SERVER[@]}" node "$HERE/peers/unix-http-onechunk.js" "$sock" "$WORK/files" >"$log" 2>&1 & ;;
        nginx)
            local prefix="$WORK/nginx-$SOCKETS"
            mkdir -p "$prefix"
            local user_line=""
            [ "$(id -u)" = 0 ] && user_line="user root;"
            nginx_ssl_sed
            sed -e "s|@PREFIX@|$prefix|g" -e "s|@SOCKET@|$sock|g" -e "s|@ROOT@|$WORK/files|g" \
                -e "s|@USER@|$user_line|g" "${NGINX_SED[@]}" "$HERE/peers/nginx.conf" >"$prefix/nginx.conf"
            TARGET=(--unix "$sock"); PROBE=http; [ "${NGINX_SSL:-0}" = 1 ] && PROBE=connect
            "${PIN_SERVER[@]}" "$NGINX" -p "$prefix" -c "$prefix/nginx.conf" >"$log" 2>&1 & ;;
        # The TLS peers (issue 11): one ECDSA P-256 certificate for all; probed with a bare connect (a plaintext
        # probe would be refused by a TLS port).
        netcore-echo-tls) next_port; TARGET=(--port "$PORT" --tls insecure); PROBE=connect
            "${PIN_SERVER[@]}" "$BIN/echo-server" --port "$PORT" --quiet --tls --cert "$TLS_CERT" --key "$TLS_KEY" >"$log" 2>&1 & ;;
        node-echo-tls) next_port; TARGET=(--port "$PORT" --tls insecure); PROBE=connect
            "${PIN_SERVER[@]}" node "$HERE/peers/tls-echo-server.js" "$PORT" "$TLS_CERT" "$TLS_KEY" >"$log" 2>&1 & ;;
        nginx-tls) NGINX_SSL=1 start_server nginx-hello "$2" || return 1
            TARGET+=(--tls insecure); return 0 ;;
        netcore-https) TARGET=(--unix "$sock" --tls insecure); PROBE=connect
            "${PIN_SERVER[@]}" "$BIN/unix-http" --socket "$sock" --root "$WORK/files" --quiet --tls --cert "$TLS_CERT" \
                --key "$TLS_KEY" >"$log" 2>&1 & ;;
        node-https) TARGET=(--unix "$sock" --tls insecure); PROBE=connect
            "${PIN_SERVER[@]}" node "$HERE/peers/unix-http-onechunk.js" "$sock" "$WORK/files" "$TLS_CERT" "$TLS_KEY" >"$log" 2>&1 & ;;
        nginx-https) NGINX_SSL=1 start_server nginx "$2" || return 1
            TARGET+=(--tls insecure); return 0 ;;
        *) say "run.sh: unknown server $kind"; return 1 ;;
    esac
    SPID=$!
    if ! "${PIN_CLIENT[@]}" "$NETBENCH" probe "${TARGET[@]}" --probe "$PROBE" --timeout 20 >/dev/null 2>&1; then
        say "run.sh: $kind did not come up; its log:"; tail -n 5 "$log" >&2
        stop_server
        return 1
    fi
}

stop_server() {
    [ -n "$SPID" ] || return 0
    kill -TERM "$SPID" 2>/dev/null
    local i
    for i in $(seq 1 60); do
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.05
    done
    kill -0 "$SPID" 2>/dev/null && kill -KILL "$SPID" 2>/dev/null
    wait "$SPID" 2>/dev/null
    SPID=""
}

# Memory of the server's process tree (nginx: master + worker), kB: rss_tree PID [VmRSS:|VmHWM:]
rss_tree() {
    local pid=$1 field=${2:-VmRSS:} total child kb
    total=$(awk -v f="$field" '$1 == f { print $2 }' "/proc/$pid/status" 2>/dev/null)
    [ -n "$total" ] || { echo -1; return; }
    for child in $(cat "/proc/$pid/task/$pid/children" 2>/dev/null); do
        kb=$(rss_tree "$child" "$field")
        [ "$kb" -gt 0 ] && total=$((total + kb))
    done
    echo "$total"
}

# ---------------------------------------------------------------- measuring
# record POINT SERVER RUN LOGFILE [extra key=value...] — stores the RESULT line of LOGFILE (or failed=1)
record() {
    local point=$1 server=$2 run=$3 log=$4
    shift 4
    local line
    line=$(grep '^RESULT ' "$log" | tail -n 1 | sed 's/^RESULT //; s/label= //')
    if [ -z "$line" ]; then
        say "   $server: no RESULT line; last output:"; tail -n 3 "$log" | sed 's/^/     /' >&2
        line="failed=1"
    fi
    echo "$point $server $run $line $*" >>"$RESULTS"
    local short
    short=$(echo "$line $*" | tr ' ' '\n' | grep -E '^(msgs_per_s|mb_per_s|req_per_s|handshakes_per_s|p50_us|p99_us|errors|ms|bytes_per_conn_held|bytes_per_conn_after|peak_rss_kb|msgs_per_cpu_s|mb_per_cpu_s|handshakes_per_cpu_s|failed)=' | tr '\n' ' ')
    say "   run $run  $(printf '%-14s' "$server") $short"
}

client_timeout() { echo $(( ${DURATION%.*} * 3 + 90 )); }

# run_client POINT SERVER RUN LOG PIN... -- ARGS... : netbench (or loadgen) with a time limit
run_client() {
    local log=$1
    shift
    timeout "$(client_timeout)" "$@" >"$log" 2>&1
}

want() { [ -z "$ONLY" ] || [[ " $ONLY " == *" $1 "* ]]; }

echo_servers() {
    local list="netcore-echo"
    [ "$HAVE_NODE" = 1 ] && list="$list node-echo"
    echo "$list c-echo"
}
http_servers() {
    local list="netcore-http"
    [ "$HAVE_NGINX" = 1 ] && list="$list nginx"
    [ "$HAVE_NODE" = 1 ] && list="$list node-seed node-onechunk"
    echo "$list"
}

# echo_point ID PIN(same|split) NETBENCH-ARGS...
echo_point() {
    local id=$1 placement=$2
    shift 2
    want "$id" || return 0
    say "== $id"
    local run server log pin
    for run in $(seq 1 "$RUNS"); do
        for server in $(echo_servers); do
            log="$WORK/logs/$id-$server-$run.log"
            start_server "$server" "$id-$server-$run" || { echo "$id $server $run failed=1" >>"$RESULTS"; continue; }
            if [ "$placement" = same ]; then pin=("${PIN_SAME[@]}"); else pin=("${PIN_CLIENT[@]}"); fi
            run_client "$log" "${pin[@]}" "$NETBENCH" echo "${TARGET[@]}" --duration "$DURATION" --warmup "$WARMUP" --label "$id" "$@"
            stop_server
            record "$id" "$server" "$run" "$log"
        done
    done
}

# workers_point: echo-server with 1 and with 2 workers (--workers 2: two loops on two threads, SO_REUSEPORT),
# 64 connections; server and load generator unpinned, so all three threads share the machine's CPUs.
workers_point() {
    local id=workers-64c
    want "$id" || return 0
    say "== $id"
    local run server log
    for run in $(seq 1 "$RUNS"); do
        for server in netcore-echo netcore-echo-w2; do
            log="$WORK/logs/$id-$server-$run.log"
            SHARED_CPUS=1 start_server "$server" "$id-$server-$run" || { echo "$id $server $run failed=1" >>"$RESULTS"; continue; }
            run_client "$log" "$NETBENCH" echo "${TARGET[@]}" --duration "$DURATION" --warmup "$WARMUP" --label "$id" --connections 64 --size 64
            stop_server
            record "$id" "$server" "$run" "$log"
        done
    done
}

idle_point() {
    local id=idle-10k
    want "$id" || return 0
    say "== $id ($IDLE_CONNS idle connections, hold ${HOLD}s)"
    idle_runs "$id" "$IDLE_CONNS" ECHOED "$(echo_servers)"
}

# http_idle_point: the web servers with HTTP_IDLE_CONNS keep-alive connections, each idle (held), then each having
# had one GET / answered and staying open (after): the "after" figure is the per-connection cost of a keep-alive
# HTTP connection.
http_idle_point() {
    local id=http-idle-10k
    want "$id" || return 0
    say "== $id ($HTTP_IDLE_CONNS keep-alive connections, hold ${HOLD}s, one GET / each)"
    idle_runs "$id" "$HTTP_IDLE_CONNS" ANSWERED "$(hello_servers)" --http /
}

# idle_runs ID CONNECTIONS STEP SERVERS [netbench conns options...]: RUNS × every server; the server's VmRSS
# before connecting, when netbench prints HELD, and when it prints STEP (ECHOED or ANSWERED).
idle_runs() {
    local id=$1 conns=$2 step=$3 servers=$4
    shift 4
    local run server log before held after connected i
    if [ "$(ulimit -n)" -lt $((conns + 64)) ] && ! ulimit -n $((conns + 64)) 2>/dev/null; then
        say "run.sh: ulimit -n is $(ulimit -n), below $((conns + 64)): the servers cannot hold $conns connections"
    fi
    for run in $(seq 1 "$RUNS"); do
        for server in $servers; do
            log="$WORK/logs/$id-$server-$run.log"
            start_server "$server" "$id-$server-$run" || { echo "$id $server $run failed=1" >>"$RESULTS"; continue; }
            sleep 0.2
            before=$(rss_tree "$SPID")
            held=-1; after=-1
            run_client "$log" "${PIN_CLIENT[@]}" "$NETBENCH" conns "${TARGET[@]}" --connections "$conns" \
                --hold "$HOLD" --linger "$LINGER" --label "$id" "$@" &
            local client=$!
            # Read the server's VmRSS while netbench pauses after "HELD" and after STEP.
            for i in $(seq 1 6000); do
                if [ "$held" = -1 ] && grep -q '^HELD' "$log" 2>/dev/null; then held=$(rss_tree "$SPID"); fi
                if grep -q "^$step" "$log" 2>/dev/null; then after=$(rss_tree "$SPID"); break; fi
                kill -0 "$client" 2>/dev/null || break
                sleep 0.02
            done
            wait "$client"
            stop_server
            connected=$(grep '^RESULT ' "$log" | tr ' ' '\n' | sed -n 's/^connected=//p')
            local per_held=-1 per_after=-1
            if [ -n "$connected" ] && [ "$connected" -gt 0 ] && [ "$before" -gt 0 ] && [ "$held" -gt 0 ] && [ "$after" -gt 0 ]; then
                per_held=$(( (held - before) * 1024 / connected ))
                per_after=$(( (after - before) * 1024 / connected ))
            fi
            record "$id" "$server" "$run" "$log" "server_rss_before_kb=$before server_rss_held_kb=$held server_rss_after_kb=$after bytes_per_conn_held=$per_held bytes_per_conn_after=$per_after"
        done
    done
}

hello_servers() {
    local list="netcore-hello"
    [ "$HAVE_NODE" = 1 ] && list="$list node-hello"
    [ "$HAVE_NGINX" = 1 ] && list="$list nginx-hello"
    echo "$list"
}
rest_servers() {
    local list="netcore-rest"
    [ "$HAVE_NODE" = 1 ] && list="$list node-rest"
    echo "$list"
}

HELLO_BODY_BYTES=33 # "<h1>Hello Node!</h1>Hello Server!"

# hello_point: GET / on hello-server (server1.js), Node's server1.js and nginx, 64 keep-alive TCP connections.
hello_point() {
    local id=hello-64c
    want "$id" || return 0
    say "== $id"
    local run server log
    for run in $(seq 1 "$RUNS"); do
        for server in $(hello_servers); do
            log="$WORK/logs/$id-$server-$run.log"
            start_server "$server" "$id-$server-$run" || { echo "$id $server $run failed=1" >>"$RESULTS"; continue; }
            run_client "$log" "${PIN_CLIENT[@]}" "$NETBENCH" http "${TARGET[@]}" --connections 64 --path / \
                --expect-body "$HELLO_BODY_BYTES" --duration "$DURATION" --warmup "$WARMUP" --label "$id"
            stop_server
            record "$id" "$server" "$run" "$log"
        done
    done
}

# hello_workers_point: hello-server without --workers, --workers 1 (a supervisor and one worker process) and
# --workers 2, 64 connections, nothing pinned: the scaling on this machine, not a comparison.
hello_workers_point() {
    local id=hello-workers-64c
    want "$id" || return 0
    say "== $id"
    local run server log
    for run in $(seq 1 "$RUNS"); do
        for server in netcore-hello netcore-hello-w1 netcore-hello-w2; do
            log="$WORK/logs/$id-$server-$run.log"
            SHARED_CPUS=1 start_server "$server" "$id-$server-$run" || { echo "$id $server $run failed=1" >>"$RESULTS"; continue; }
            run_client "$log" "$NETBENCH" http "${TARGET[@]}" --connections 64 --path / \
                --expect-body "$HELLO_BODY_BYTES" --duration "$DURATION" --warmup "$WARMUP" --label "$id"
            stop_server
            record "$id" "$server" "$run" "$log"
        done
    done
}

# users_json: the running rest server's GET /users body
users_json() { "${PIN_CLIENT[@]}" curl -s --max-time 30 "http://127.0.0.1:$PORT/users"; }

# rest_users_point: GET /users with REST_USERS users in the map. The users are made with PUT /user/1..N (one curl,
# one connection): POSTs would get the seed's Date.now() ids, and on Node several POSTs in one millisecond
# overwrite each other, so the two maps would differ. Both servers then answer the same JSON bytes.
rest_users_point() {
    local id=rest-users-64c
    want "$id" || return 0
    command -v curl >/dev/null 2>&1 || { say "run.sh: curl is missing: $id is skipped"; return 0; }
    say "== $id ($REST_USERS users)"
    local run server log bytes
    for run in $(seq 1 "$RUNS"); do
        for server in $(rest_servers); do
            log="$WORK/logs/$id-$server-$run.log"
            start_server "$server" "$id-$server-$run" || { echo "$id $server $run failed=1" >>"$RESULTS"; continue; }
            "${PIN_CLIENT[@]}" curl -s --max-time 60 -o /dev/null -X PUT -H 'Content-Type: application/json' \
                --data '{"name":"kim"}' "http://127.0.0.1:$PORT/user/[1-$REST_USERS]"
            bytes=$(users_json | wc -c)
            run_client "$log" "${PIN_CLIENT[@]}" "$NETBENCH" http "${TARGET[@]}" --connections 64 --path /users \
                --expect-body "$bytes" --duration "$DURATION" --warmup "$WARMUP" --label "$id"
            stop_server
            record "$id" "$server" "$run" "$log" "users_json_bytes=$bytes"
        done
    done
}

# rest_post_point: POST /user {"name":"kim"} → 201 "등록 성공" (13 bytes). The map grows all run long; the users at
# the end are counted (NetCore: one per POST; Node: one per millisecond at most, the seed's Date.now() ids collide).
rest_post_point() {
    local id=rest-post-64c
    want "$id" || return 0
    say "== $id"
    local run server log users
    for run in $(seq 1 "$RUNS"); do
        for server in $(rest_servers); do
            log="$WORK/logs/$id-$server-$run.log"
            start_server "$server" "$id-$server-$run" || { echo "$id $server $run failed=1" >>"$RESULTS"; continue; }
            run_client "$log" "${PIN_CLIENT[@]}" "$NETBENCH" http "${TARGET[@]}" --connections 64 --path /user \
                --method POST --body '{"name":"kim"}' --expect-status 201 --expect-body 13 \
                --duration "$DURATION" --warmup "$WARMUP" --label "$id"
            users=-1
            command -v curl >/dev/null 2>&1 && users=$(users_json | grep -o '"kim"' | wc -l)
            stop_server
            record "$id" "$server" "$run" "$log" "users_at_end=$users"
        done
    done
}

expected_body() { # SERVER FILE_BYTES
    if [ "$1" = nginx ]; then echo "$2"; else echo $(( $2 + COUNTER_BYTES )); fi
}

http_point() { # ID CONNECTIONS
    local id=$1 connections=$2
    want "$id" || return 0
    say "== $id"
    local run server log
    for run in $(seq 1 "$RUNS"); do
        for server in $(http_servers); do
            log="$WORK/logs/$id-$server-$run.log"
            start_server "$server" "$id-$server-$run" || { echo "$id $server $run failed=1" >>"$RESULTS"; continue; }
            run_client "$log" "${PIN_CLIENT[@]}" "$NETBENCH" http "${TARGET[@]}" --connections "$connections" \
                --path '/?file=file1k.txt' --expect-body "$(expected_body "$server" "$FILE1K_BYTES")" \
                --duration "$DURATION" --warmup "$WARMUP" --label "$id"
            stop_server
            record "$id" "$server" "$run" "$log"
        done
    done
}

big_point() {
    local id=http-1g
    want "$id" || return 0
    make_big_file
    say "== $id (${BIG_MB} MiB file streamed to one client)"
    local run server log servers="netcore-http" peak
    [ "$HAVE_NGINX" = 1 ] && servers="$servers nginx"
    for run in $(seq 1 "$RUNS"); do
        for server in $servers; do
            log="$WORK/logs/$id-$server-$run.log"
            start_server "$server" "$id-$server-$run" || { echo "$id $server $run failed=1" >>"$RESULTS"; continue; }
            run_client "$log" "${PIN_CLIENT[@]}" "$NETBENCH" http "${TARGET[@]}" --connections 1 --requests 1 \
                --path '/?file=big.txt' --expect-body "$(expected_body "$server" "$BIG_BYTES")" --duration 120 --label "$id"
            peak=$(rss_tree "$SPID" VmHWM:)
            stop_server
            record "$id" "$server" "$run" "$log" "peak_rss_kb=$peak"
        done
    done
}

startup_point() { # ID PROBE SERVERS...
    local id=$1 probe=$2
    shift 2
    want "$id" || return 0
    say "== $id (exec → first answered $probe, median of $STARTUP_REPEAT spawns per run)"
    local run server log target command
    for run in $(seq 1 "$RUNS"); do
        for server in "$@"; do
            log="$WORK/logs/$id-$server-$run.log"
            SOCKETS=$((SOCKETS + 1))
            local sock="$WORK/s/$SOCKETS.sock"
            case $server in
                netcore-echo) next_port; target=(--port "$PORT"); command=("$BIN/echo-server" --port "$PORT" --quiet) ;;
                node-echo) next_port; target=(--port "$PORT"); command=(node "$HERE/peers/echo-server.js" "$PORT") ;;
                c-echo) next_port; target=(--port "$PORT"); command=("$WORK/echo-epoll" "$PORT") ;;
                netcore-http) target=(--unix "$sock"); command=("$BIN/unix-http" --socket "$sock" --root "$WORK/files" --quiet) ;;
                node-seed) target=(--unix "$sock"); command=(node "$HERE/peers/unix-http-seed.js" "$sock" "$WORK/files") ;;
                nginx)
                    local prefix="$WORK/nginx-$SOCKETS" user_line=""
                    mkdir -p "$prefix"
                    [ "$(id -u)" = 0 ] && user_line="user root;"
                    sed -e "s|@PREFIX@|$prefix|g" -e "s|@SOCKET@|$sock|g" -e "s|@ROOT@|$WORK/files|g" \
                        -e "s|@USER@|$user_line|g" -e "s|@SSL@||g" -e "s|@SSL_LINES@||g" "$HERE/peers/nginx.conf" >"$prefix/nginx.conf"
                    target=(--unix "$sock"); command=("$NGINX" -p "$prefix" -c "$prefix/nginx.conf") ;;
            esac
            run_client "$log" "${PIN_CLIENT[@]}" "$NETBENCH" startup "${target[@]}" --probe "$probe" \
                --repeat "$STARTUP_REPEAT" --timeout 20 --label "$id" -- "${PIN_SERVER[@]}" "${command[@]}"
            record "$id" "$server" "$run" "$log"
        done
    done
}

crosscheck_point() {
    local id=crosscheck-64c
    want "$id" || return 0
    [ "$HAVE_LOADGEN" = 1 ] || return 0
    say "== $id (netbench vs loadgen, 64 connections, C echo server)"
    local run tool log order runs=$RUNS
    # The pass/fail figure gets at least 5 back-to-back pairs in a full run: one pair says little on a noisy machine.
    [ "$QUICK" = 0 ] && [ "$runs" -lt 5 ] && runs=5
    for run in $(seq 1 "$runs"); do
        # Alternate which goes first, so a drift of the machine's load does not favour one of them.
        if [ $((run % 2)) = 1 ]; then order="netbench loadgen"; else order="loadgen netbench"; fi
        for tool in $order; do
            log="$WORK/logs/$id-$tool-$run.log"
            start_server c-echo "$id-$tool-$run" || { echo "$id $tool $run failed=1" >>"$RESULTS"; continue; }
            if [ "$tool" = netbench ]; then
                run_client "$log" "${PIN_CLIENT[@]}" "$NETBENCH" echo "${TARGET[@]}" --connections 64 --size 64 \
                    --duration "$DURATION" --warmup "$WARMUP" --label "$id"
            else
                run_client "$log" "${PIN_CLIENT[@]}" "$WORK/loadgen" echo --host 127.0.0.1 "${TARGET[@]}" --conns 64 \
                    --size 64 --duration "$DURATION" --warmup "$WARMUP" --label "$id"
            fi
            stop_server
            record "$id" "$tool" "$run" "$log"
        done
    done
}

# crosscheck_http_point: netbench's http mode vs loadgen's against nginx-hello (the fastest HTTP server here, so
# the one where a slow client would show), 64 connections, alternating like the echo cross-check.
crosscheck_http_point() {
    local id=crosscheck-http-64c
    want "$id" || return 0
    [ "$HAVE_LOADGEN" = 1 ] && [ "$HAVE_NGINX" = 1 ] || return 0
    say "== $id (netbench vs loadgen, HTTP GET / over 64 connections, nginx)"
    local run tool log order runs=$RUNS
    [ "$QUICK" = 0 ] && [ "$runs" -lt 5 ] && runs=5
    for run in $(seq 1 "$runs"); do
        if [ $((run % 2)) = 1 ]; then order="netbench loadgen"; else order="loadgen netbench"; fi
        for tool in $order; do
            log="$WORK/logs/$id-$tool-$run.log"
            start_server nginx-hello "$id-$tool-$run" || { echo "$id $tool $run failed=1" >>"$RESULTS"; continue; }
            if [ "$tool" = netbench ]; then
                run_client "$log" "${PIN_CLIENT[@]}" "$NETBENCH" http "${TARGET[@]}" --connections 64 --path / \
                    --expect-body "$HELLO_BODY_BYTES" --duration "$DURATION" --warmup "$WARMUP" --label "$id"
            else
                run_client "$log" "${PIN_CLIENT[@]}" "$WORK/loadgen" http --host 127.0.0.1 "${TARGET[@]}" --conns 64 \
                    --path / --expect-body "$HELLO_BODY_BYTES" --duration "$DURATION" --warmup "$WARMUP" --label "$id"
            fi
            stop_server
            record "$id" "$tool" "$run" "$log"
        done
    done
}

# ---------------------------------------------------------------- TLS points (issue 11)
tls_echo_servers() {
    local list="netcore-echo-tls"
    [ "$HAVE_NODE" = 1 ] && list="$list node-echo-tls"
    echo "$list"
}
https_servers() {
    local list="netcore-https"
    [ "$HAVE_NGINX" = 1 ] && list="$list nginx-https"
    [ "$HAVE_NODE" = 1 ] && list="$list node-https"
    echo "$list"
}

# measured_client LOG SERVER_PID NETBENCH-ARGS...: runs netbench and reads the server's CPU ticks over its measured
# window (from WARMUP after the start to WARMUP + DURATION; netbench's own window starts after its connections are
# up, so this is close, not exact); sets SERVER_CPU_S.
measured_client() {
    local log=$1 pid=$2 t0 t1
    shift 2
    run_client "$log" "$@" &
    local client=$!
    sleep "$WARMUP"
    t0=$(cpu_ticks "$pid")
    sleep "$DURATION"
    t1=$(cpu_ticks "$pid")
    wait "$client"
    SERVER_CPU_S=$(awk -v a="$t0" -v b="$t1" -v hz="$CLK_TCK" 'BEGIN { printf "%.3f", (b - a) / hz }')
}

# per_cpu LOG KEY: KEY's figure from LOG's RESULT line divided by SERVER_CPU_S per second of the window.
per_cpu() {
    local value
    value=$(grep '^RESULT ' "$1" | tail -n 1 | tr ' ' '\n' | sed -n "s/^$2=//p")
    awk -v v="${value:-0}" -v cpu="$SERVER_CPU_S" -v d="$DURATION" 'BEGIN { if (cpu > 0) printf "%.1f", v * d / cpu; else print -1 }'
}

# tls_echo_point: echo-server --tls against Node's tls echo, 64 connections, 64-byte ping-pong.
tls_echo_point() {
    local id=echo-tls-64c
    want "$id" || return 0
    say "== $id"
    local run server log
    for run in $(seq 1 "$RUNS"); do
        for server in $(tls_echo_servers); do
            log="$WORK/logs/$id-$server-$run.log"
            start_server "$server" "$id-$server-$run" || { echo "$id $server $run failed=1" >>"$RESULTS"; continue; }
            measured_client "$log" "$SPID" "${PIN_CLIENT[@]}" "$NETBENCH" echo "${TARGET[@]}" --connections 64 --size 64 \
                --duration "$DURATION" --warmup "$WARMUP" --label "$id"
            stop_server
            record "$id" "$server" "$run" "$log" "server_cpu_s=$SERVER_CPU_S msgs_per_cpu_s=$(per_cpu "$log" msgs_per_s)"
        done
    done
}

# tls_bulk_point: a TLS_BIG_MB file downloaded over HTTPS on one connection (unix-http --tls, nginx with ssl; the
# socket reads and writes are up to 64 KiB): MB/s, and MB per server CPU-second (the issue's comparison).
tls_bulk_point() {
    local id=tls-bulk
    want "$id" || return 0
    make_big_file
    say "== $id (${BIG_MB} MiB over HTTPS, one connection)"
    local run server log servers="netcore-https" t0 t1
    [ "$HAVE_NGINX" = 1 ] && servers="$servers nginx-https"
    for run in $(seq 1 "$RUNS"); do
        for server in $servers; do
            log="$WORK/logs/$id-$server-$run.log"
            start_server "$server" "$id-$server-$run" || { echo "$id $server $run failed=1" >>"$RESULTS"; continue; }
            t0=$(cpu_ticks "$SPID")
            run_client "$log" "${PIN_CLIENT[@]}" "$NETBENCH" http "${TARGET[@]}" --connections 1 --requests 1 \
                --path '/?file=big.txt' --expect-body "$(expected_body "${server%-https}" "$BIG_BYTES")" --duration 120 --label "$id"
            t1=$(cpu_ticks "$SPID")
            stop_server
            local cpu mb per
            cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$CLK_TCK" 'BEGIN { printf "%.3f", (b - a) / hz }')
            mb=$(awk -v b="$BIG_BYTES" 'BEGIN { printf "%.1f", b / 1e6 }')
            per=$(awk -v m="$mb" -v c="$cpu" 'BEGIN { if (c > 0) printf "%.1f", m / c; else print -1 }')
            record "$id" "$server" "$run" "$log" "server_cpu_s=$cpu mb_per_cpu_s=$per"
        done
    done
}

# https_point: the 1 KiB file over HTTPS, 64 keep-alive connections (unix-http --tls, nginx, Node https).
https_point() {
    local id=https-1k-64c
    want "$id" || return 0
    say "== $id"
    local run server log
    for run in $(seq 1 "$RUNS"); do
        for server in $(https_servers); do
            log="$WORK/logs/$id-$server-$run.log"
            start_server "$server" "$id-$server-$run" || { echo "$id $server $run failed=1" >>"$RESULTS"; continue; }
            run_client "$log" "${PIN_CLIENT[@]}" "$NETBENCH" http "${TARGET[@]}" --connections 64 \
                --path '/?file=file1k.txt' --expect-body "$(expected_body "${server%-https}" "$FILE1K_BYTES")" \
                --duration "$DURATION" --warmup "$WARMUP" --label "$id"
            stop_server
            record "$id" "$server" "$run" "$log"
        done
    done
}

# tls_handshake_point: full handshakes (ECDSA P-256, no resumption), 16 in flight, each connection destroyed once
# its handshake completes: handshakes/s, and per server CPU-second (the client works about as hard as the server,
# so the rate alone would measure netbench).
tls_handshake_point() {
    local id=tls-handshakes
    want "$id" || return 0
    say "== $id"
    local run server log servers
    servers="$(tls_echo_servers)"
    [ "$HAVE_NGINX" = 1 ] && servers="$servers nginx-tls"
    for run in $(seq 1 "$RUNS"); do
        for server in $servers; do
            log="$WORK/logs/$id-$server-$run.log"
            start_server "$server" "$id-$server-$run" || { echo "$id $server $run failed=1" >>"$RESULTS"; continue; }
            measured_client "$log" "$SPID" "${PIN_CLIENT[@]}" "$NETBENCH" handshakes "${TARGET[@]}" --connections 16 \
                --duration "$DURATION" --warmup "$WARMUP" --label "$id"
            stop_server
            record "$id" "$server" "$run" "$log" "server_cpu_s=$SERVER_CPU_S handshakes_per_cpu_s=$(per_cpu "$log" handshakes_per_s)"
        done
    done
}

# tls_idle_point: IDLE_CONNS TLS connections after the handshake, held, then one echo each: server RSS per conn.
tls_idle_point() {
    local id=tls-idle-10k
    want "$id" || return 0
    say "== $id ($IDLE_CONNS TLS connections, hold ${HOLD}s)"
    idle_runs "$id" "$IDLE_CONNS" ECHOED "$(tls_echo_servers)"
}

# ---------------------------------------------------------------- the points
if [ -z "$FROM_RESULTS" ]; then
say "== $NPROC CPUs; $PINNING; ${DURATION}s per point after ${WARMUP}s warm-up, $RUNS run(s)"
echo_point echo-1c-samecpu same --connections 1 --size 64
echo_point echo-64c split --connections 64 --size 64
echo_point echo-1000c split --connections 1000 --size 64
echo_point stream-64k split --connections 1 --size 65536 --inflight 4
workers_point
idle_point
hello_point
rest_users_point
rest_post_point
http_idle_point
hello_workers_point
http_point http-1k-64c 64
http_point http-1k-1c 1
big_point
startup_point startup-echo echo $(echo_servers)
startup_point startup-http http $(http_servers | sed 's/ node-onechunk//')
crosscheck_point
crosscheck_http_point
tls_echo_point
tls_bulk_point
https_point
tls_handshake_point
tls_idle_point
fi

# ---------------------------------------------------------------- the table
# values POINT SERVER KEY → one value per run; median of them
# (the last occurrence of KEY on a line wins: run.sh's own figures are appended after netbench's RESULT fields)
values() { awk -v p="$1" -v s="$2" -v k="$3" '$1 == p && $2 == s { v = ""; for (i = 4; i <= NF; i++) { n = index($i, "="); if (substr($i, 1, n - 1) == k) v = substr($i, n + 1) } if (v != "") print v }' "$RESULTS"; }
median() {
    values "$@" | awk '$1 != "" && $1 != -1' | sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) exit; if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
runs_ok() { awk -v p="$1" -v s="$2" '$1 == p && $2 == s && $0 !~ / failed=1/' "$RESULTS" | wc -l; }
runs_all() { awk -v p="$1" -v s="$2" '$1 == p && $2 == s' "$RESULTS" | wc -l; }
total_errors() { values "$1" "$2" errors | awk '{ s += $1 } END { print s + 0 }'; }
fmt() { # VALUE DECIMALS → with thousands separators, "n/a" when missing
    [ -n "$1" ] || { echo "n/a"; return; }
    awk -v v="$1" -v d="$2" 'BEGIN {
        s = sprintf("%." d "f", v); sign = ""
        if (substr(s, 1, 1) == "-") { sign = "-"; s = substr(s, 2) }
        dot = index(s, "."); whole = dot ? substr(s, 1, dot - 1) : s; rest = dot ? substr(s, dot) : ""
        out = ""
        while (length(whole) > 3) { out = "," substr(whole, length(whole) - 2) out; whole = substr(whole, 1, length(whole) - 3) }
        printf "%s%s%s%s", sign, whole, out, rest
    }'
}
ratio() { # OURS THEIRS
    [ -n "$1" ] && [ -n "$2" ] || { echo "n/a"; return; }
    awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f", a / b }'
}

declare -A NAME=(
    [netcore-echo]="NetCore echo-server" [netcore-echo-w2]="NetCore echo-server --workers 2" [node-echo]="Node echo-server.js" [c-echo]="C echo-epoll"
    [netcore-http]="NetCore unix-http" [nginx]="nginx (static file)" [node-seed]="Node seed (100 writes)"
    [node-onechunk]="Node one-chunk" [netbench]="netbench" [loadgen]="loadgen.c"
    [netcore-hello]="NetCore hello-server" [netcore-hello-w1]="NetCore hello-server --workers 1"
    [netcore-hello-w2]="NetCore hello-server --workers 2" [node-hello]="Node server1.js"
    [nginx-hello]="nginx (return 200, Content-Length)" [netcore-rest]="NetCore rest-server" [node-rest]="Node restServer.js"
    [netcore-echo-tls]="NetCore echo-server --tls" [node-echo-tls]="Node tls echo (the seed's on tls.createServer)"
    [nginx-tls]="nginx ssl (return 200)" [netcore-https]="NetCore unix-http --tls" [nginx-https]="nginx ssl (static file)"
    [node-https]="Node https one-chunk"
)
declare -A TITLE=(
    [echo-1c-samecpu]="echo 64 B ping-pong, 1 conn, client and server on one CPU"
    [echo-64c]="echo 64 B ping-pong, 64 conns"
    [echo-1000c]="echo 64 B ping-pong, 1,000 conns"
    [stream-64k]="stream 64 KiB messages, 4 in flight, 1 conn"
    [workers-64c]="echo 64 conns, --workers 2 vs 1 (server and client unpinned, sharing $NPROC CPUs)"
    [idle-10k]="$(fmt "$IDLE_CONNS" 0) idle conns: server RSS per conn"
    [http-1k-64c]="unix-http 1 KiB file, 64 keep-alive conns"
    [http-1k-1c]="unix-http 1 KiB file, 1 conn"
    [http-1g]="unix-http $(fmt "$BIG_MB" 0) MiB file, streamed to one client"
    [startup-echo]="start-up: exec → first echo answered"
    [startup-http]="start-up: exec → first HTTP response"
    [crosscheck-64c]="netbench vs loadgen.c, echo 64 conns, C server"
    [crosscheck-http-64c]="netbench vs loadgen.c, HTTP GET / 64 conns, nginx"
    [hello-64c]="hello (server1.js) GET /, 64 keep-alive TCP conns"
    [rest-users-64c]="rest GET /users ($REST_USERS users), 64 keep-alive TCP conns"
    [rest-post-64c]="rest POST /user, 64 keep-alive TCP conns"
    [http-idle-10k]="$(fmt "$HTTP_IDLE_CONNS" 0) keep-alive HTTP conns: server RSS per conn"
    [hello-workers-64c]="hello GET / 64 conns, --workers 2 / 1 / none (unpinned, sharing $NPROC CPUs)"
    [echo-tls-64c]="TLS echo 64 B ping-pong, 64 conns"
    [tls-bulk]="HTTPS download of the big file (BENCH_BIG_MB MiB), one conn"
    [https-1k-64c]="HTTPS 1 KiB file, 64 keep-alive conns (Unix socket)"
    [tls-handshakes]="TLS full handshakes (ECDSA P-256), 16 in flight"
    [tls-idle-10k]="$(fmt "$IDLE_CONNS" 0) idle TLS conns: server RSS per conn"
)

SUMMARY="$WORK/summary.md"
DETAILS="$WORK/details.md"
{
    echo "| Point | Metric | NetCore | Peer | Peer's figure | NetCore ÷ peer |"
    echo "|---|---|---:|---|---:|---:|"
} >"$SUMMARY"
{
    echo "| Point | Server | Main figure | p50 µs | p99 µs | p99.9 µs | Errors (all runs) | Load generator CPU % | Runs |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
} >"$DETAILS"

# summary_rows POINT OURS METRIC "LABEL" DECIMALS PEERS...
summary_rows() {
    local point=$1 ours=$2 metric=$3 label=$4 decimals=$5
    shift 5
    grep -q "^$point " "$RESULTS" || return 0
    local mine peer theirs first=1
    mine=$(median "$point" "$ours" "$metric")
    for peer in "$@"; do
        grep -q "^$point $peer " "$RESULTS" || continue
        theirs=$(median "$point" "$peer" "$metric")
        if [ "$first" = 1 ]; then
            echo "| ${TITLE[$point]} | $label | $(fmt "$mine" "$decimals") | ${NAME[$peer]} | $(fmt "$theirs" "$decimals") | $(ratio "$mine" "$theirs") |"
            first=0
        else
            echo "| | | | ${NAME[$peer]} | $(fmt "$theirs" "$decimals") | $(ratio "$mine" "$theirs") |"
        fi
    done >>"$SUMMARY"
}

# detail_rows POINT METRIC UNIT DECIMALS SERVERS...
detail_rows() {
    local point=$1 metric=$2 unit=$3 decimals=$4
    shift 4
    local server
    for server in "$@"; do
        grep -q "^$point $server " "$RESULTS" || continue
        echo "| ${TITLE[$point]} | ${NAME[$server]} | $(fmt "$(median "$point" "$server" "$metric")" "$decimals") $unit | $(fmt "$(median "$point" "$server" p50_us)" 1) | $(fmt "$(median "$point" "$server" p99_us)" 1) | $(fmt "$(median "$point" "$server" p999_us)" 1) | $(total_errors "$point" "$server") | $(fmt "$(median "$point" "$server" cpu_pct)" 0) | $(runs_ok "$point" "$server")/$(runs_all "$point" "$server") |" >>"$DETAILS"
    done
}

ECHO_PEERS="node-echo c-echo"
HTTP_PEERS="nginx node-seed node-onechunk"
for point in echo-1c-samecpu echo-64c echo-1000c; do
    summary_rows "$point" netcore-echo msgs_per_s "msgs/s" 0 $ECHO_PEERS
    detail_rows "$point" msgs_per_s "msgs/s" 0 netcore-echo $ECHO_PEERS
done
summary_rows stream-64k netcore-echo mb_per_s "MB/s (payload, one way)" 1 $ECHO_PEERS
detail_rows stream-64k mb_per_s "MB/s" 1 netcore-echo $ECHO_PEERS
summary_rows workers-64c netcore-echo-w2 msgs_per_s "msgs/s" 0 netcore-echo
detail_rows workers-64c msgs_per_s "msgs/s" 0 netcore-echo netcore-echo-w2
summary_rows idle-10k netcore-echo bytes_per_conn_held "bytes/conn held (lower is better)" 0 $ECHO_PEERS
summary_rows idle-10k netcore-echo bytes_per_conn_after "bytes/conn after echo (lower is better)" 0 $ECHO_PEERS
detail_rows idle-10k bytes_per_conn_held "B/conn held" 0 netcore-echo $ECHO_PEERS
summary_rows hello-64c netcore-hello req_per_s "req/s" 0 nginx-hello node-hello
detail_rows hello-64c req_per_s "req/s" 0 netcore-hello nginx-hello node-hello
summary_rows rest-users-64c netcore-rest req_per_s "req/s" 0 node-rest
detail_rows rest-users-64c req_per_s "req/s" 0 netcore-rest node-rest
summary_rows rest-post-64c netcore-rest req_per_s "req/s" 0 node-rest
detail_rows rest-post-64c req_per_s "req/s" 0 netcore-rest node-rest
summary_rows http-idle-10k netcore-hello bytes_per_conn_after "bytes/conn after one request, kept open (lower is better)" 0 node-hello nginx-hello
summary_rows http-idle-10k netcore-hello bytes_per_conn_held "bytes/conn connected, no request yet (lower is better)" 0 node-hello nginx-hello
detail_rows http-idle-10k bytes_per_conn_after "B/conn after one request" 0 netcore-hello node-hello nginx-hello
summary_rows hello-workers-64c netcore-hello-w2 req_per_s "req/s" 0 netcore-hello netcore-hello-w1
summary_rows hello-workers-64c netcore-hello-w1 req_per_s "req/s" 0 netcore-hello
detail_rows hello-workers-64c req_per_s "req/s" 0 netcore-hello netcore-hello-w1 netcore-hello-w2
for point in http-1k-64c http-1k-1c; do
    summary_rows "$point" netcore-http req_per_s "req/s" 0 $HTTP_PEERS
    detail_rows "$point" req_per_s "req/s" 0 netcore-http $HTTP_PEERS
done
summary_rows http-1g netcore-http mb_per_s "MB/s (body)" 1 nginx
summary_rows http-1g netcore-http peak_rss_kb "server peak RSS kB (lower is better)" 0 nginx
detail_rows http-1g mb_per_s "MB/s" 1 netcore-http nginx
summary_rows echo-tls-64c netcore-echo-tls msgs_per_s "msgs/s" 0 node-echo-tls
summary_rows echo-tls-64c netcore-echo-tls msgs_per_cpu_s "msgs per server CPU-second" 0 node-echo-tls
detail_rows echo-tls-64c msgs_per_s "msgs/s" 0 netcore-echo-tls node-echo-tls
summary_rows tls-bulk netcore-https mb_per_cpu_s "MB per server CPU-second" 1 nginx-https
summary_rows tls-bulk netcore-https mb_per_s "MB/s (body)" 1 nginx-https
detail_rows tls-bulk mb_per_s "MB/s" 1 netcore-https nginx-https
summary_rows https-1k-64c netcore-https req_per_s "req/s" 0 nginx-https node-https
detail_rows https-1k-64c req_per_s "req/s" 0 netcore-https nginx-https node-https
summary_rows tls-handshakes netcore-echo-tls handshakes_per_cpu_s "handshakes per server CPU-second" 0 nginx-tls node-echo-tls
summary_rows tls-handshakes netcore-echo-tls handshakes_per_s "handshakes/s (bounded by the client)" 0 nginx-tls node-echo-tls
detail_rows tls-handshakes handshakes_per_s "handshakes/s" 0 netcore-echo-tls nginx-tls node-echo-tls
summary_rows tls-idle-10k netcore-echo-tls bytes_per_conn_after "bytes/conn after the handshake and one echo (lower is better)" 0 node-echo-tls
detail_rows tls-idle-10k bytes_per_conn_after "B/conn after one echo" 0 netcore-echo-tls node-echo-tls
summary_rows startup-echo netcore-echo ms "ms (lower is better)" 2 node-echo c-echo
detail_rows startup-echo ms "ms" 2 netcore-echo node-echo c-echo
summary_rows startup-http netcore-http ms "ms (lower is better)" 2 nginx node-seed
detail_rows startup-http ms "ms" 2 netcore-http nginx node-seed

# The targets of the web-server points (issue 10 §6): target_row POINT OURS PEER|- METRIC OP LIMIT "TEXT"
# (OP ge: the ratio OURS ÷ PEER must be ≥ LIMIT; le: OURS's own figure must be ≤ LIMIT).
TARGETS="$WORK/targets.md"
: >"$TARGETS"
target_row() {
    local point=$1 ours=$2 peer=$3 metric=$4 op=$5 limit=$6 text=$7 mine theirs value verdict
    grep -q "^$point $ours " "$RESULTS" || return 0
    mine=$(median "$point" "$ours" "$metric")
    if [ "$peer" = - ]; then
        value=$(fmt "$mine" 0)
    else
        grep -q "^$point $peer " "$RESULTS" || return 0
        theirs=$(median "$point" "$peer" "$metric")
        value=$(ratio "$mine" "$theirs")
    fi
    verdict=$(awk -v v="${value//,/}" -v l="$limit" -v op="$op" 'BEGIN {
        if (v == "n/a" || v == "") print "n/a"; else if ((op == "ge" && v + 0 >= l) || (op == "le" && v + 0 <= l)) print "met"; else print "**missed**" }')
    echo "| ${TITLE[$point]} | $text | $value | $verdict |" >>"$TARGETS"
}
target_row hello-64c netcore-hello nginx-hello req_per_s ge 1.2 "hello-server ÷ nginx ≥ 1.2"
target_row hello-64c netcore-hello node-hello req_per_s ge 3 "hello-server ÷ Node server1.js ≥ 3"
target_row rest-users-64c netcore-rest node-rest req_per_s ge 3 "rest-server ÷ Node restServer.js ≥ 3"
target_row rest-post-64c netcore-rest node-rest req_per_s ge 3 "rest-server ÷ Node restServer.js ≥ 3"
target_row http-idle-10k netcore-hello - bytes_per_conn_after le 1024 "hello-server bytes/conn after one request ≤ 1,024"
# The TLS points' targets (issue 11).
target_row echo-tls-64c netcore-echo-tls node-echo-tls msgs_per_s ge 1.5 "echo-server --tls ÷ Node tls echo ≥ 1.5"
target_row tls-bulk netcore-https nginx-https mb_per_cpu_s ge 0.9 "unix-http --tls ÷ nginx, MB per server CPU-second ≥ 0.9"
target_row https-1k-64c netcore-https nginx-https req_per_s ge 1.0 "unix-http --tls ÷ nginx ssl ≥ 1.0"
target_row tls-handshakes netcore-echo-tls nginx-tls handshakes_per_cpu_s ge 0.9 "handshakes per server CPU-second ÷ nginx ≥ 0.9"
target_row tls-handshakes netcore-echo-tls node-echo-tls handshakes_per_cpu_s ge 2 "handshakes per server CPU-second ÷ Node ≥ 2"
target_row tls-idle-10k netcore-echo-tls - bytes_per_conn_after le 20480 "echo-server --tls bytes/conn after the handshake ≤ 20,480"

# Facts about the rest points that the tables have no column for.
REST_NOTES=""
for server in netcore-rest node-rest; do
    grep -q "^rest-users-64c $server " "$RESULTS" &&
        REST_NOTES="$REST_NOTES- rest-users-64c, ${NAME[$server]}: GET /users body $(fmt "$(median rest-users-64c "$server" users_json_bytes)" 0) bytes.
"
    grep -q "^rest-post-64c $server " "$RESULTS" &&
        REST_NOTES="$REST_NOTES- rest-post-64c, ${NAME[$server]}: $(fmt "$(median rest-post-64c "$server" users_at_end)" 0) users in the map at the end of a run (median; $(fmt "$(median rest-post-64c "$server" reqs)" 0) POSTs answered in the measured window).
"
done

CROSSCHECK=""
# crosscheck_row POINT METRIC: the netbench-vs-loadgen line of POINT; the verdict uses the median of the per-run
# ratios (each pair measured back to back).
crosscheck_row() {
    local point=$1 metric=$2 nb lg r verdict
    grep -q "^$point " "$RESULTS" || return 0
    nb=$(median "$point" netbench "$metric")
    lg=$(median "$point" loadgen "$metric")
    r=$(awk -v p="$point" -v k="$metric=" '$1 == p { for (i = 4; i <= NF; i++) if (index($i, k) == 1) v[$2 " " $3] = substr($i, length(k) + 1) }
        END { for (key in v) { split(key, a, " "); if (a[1] == "netbench" && v["loadgen " a[2]] > 0) print v[key] / v["loadgen " a[2]] } }' "$RESULTS" |
        sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) exit; if (NR % 2) m = a[(NR + 1) / 2]; else m = (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.2f", m }')
    [ -n "$r" ] || r="n/a"
    verdict=$(awk -v r="$r" 'BEGIN { if (r == "n/a") print "n/a"; else if (r + 0 >= 0.90) print "PASS (≥ 0.90)"; else print "FAIL (< 0.90)" }')
    CROSSCHECK="$CROSSCHECK| ${TITLE[$point]} | ${metric%%_per_s}/s | $(fmt "$nb" 0) | $(fmt "$lg" 0) | $r | $verdict |
"
    detail_rows "$point" "$metric" "${metric%%_per_s}/s" 0 netbench
    # loadgen reports its CPU as lg_cpu_pct
    sed -i "s/^$point loadgen \(.*\) lg_cpu_pct=/$point loadgen \1 cpu_pct=/" "$RESULTS"
    detail_rows "$point" "$metric" "${metric%%_per_s}/s" 0 loadgen
}
crosscheck_row crosscheck-64c msgs_per_s
crosscheck_row crosscheck-http-64c req_per_s
CROSSCHECK=${CROSSCHECK%$'\n'}

ELAPSED=$(( $(date +%s) - STARTED_AT ))
KERNEL=$(uname -r)
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
MEM_GB=$(awk '/^MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo 2>/dev/null)
SWIFT_VERSION=$(swift --version 2>/dev/null | head -n 1)
NODE_VERSION=$([ "$HAVE_NODE" = 1 ] && node --version || echo "not installed")
NGINX_VERSION=$([ "$HAVE_NGINX" = 1 ] && "$NGINX" -v 2>&1 | sed 's/^nginx version: nginx\///' || echo "not installed")
CC_VERSION=$(cc --version 2>/dev/null | head -n 1)
if [ "$QUICK" = 1 ]; then
    KIND="quick smoke run (--quick: ${DURATION} s per point, $RUNS run): proves the harness works; the figures are not measurements"
else
    KIND="full run: ${DURATION} s per point after a ${WARMUP} s warm-up, medians of $RUNS runs"
fi

{
    echo "# NetCore benchmarks"
    echo
    echo "Generated by \`Benchmarks/run.sh$([ "$QUICK" = 1 ] && echo " --quick")\` on $(date -u '+%Y-%m-%d %H:%M UTC') — $KIND."
    echo
    echo "- Machine: $NPROC CPU cores (${CPU_MODEL:-unknown CPU}), ${MEM_GB:-?} GiB RAM, Linux $KERNEL. $PINNING."
    echo "- **The machine is shared and noisy**: other work (builds, test suites) may run at the same time, so single"
    echo "  figures can be off by tens of percent. Every point interleaves the servers within each run, so the ratios"
    echo "  (measured in the same run) are more trustworthy than the absolute numbers. Re-run on a quiet machine to publish."
    [ -n "${BENCH_NOTE:-}" ] && echo "- $BENCH_NOTE"
    echo "- Toolchains: $SWIFT_VERSION; node $NODE_VERSION; nginx $NGINX_VERSION; $CC_VERSION."
    echo "- Load generator: \`netbench\` (Benchmarks/netbench, one NetCore EventLoop per thread, 1 thread here), which"
    echo "  verifies every echoed byte including the \`Repeating: \` prefix and parses every HTTP response in full"
    echo "  (chunked framing included); latency percentiles come from a log-linear histogram (< 1 % bucket error)."
    if [ -n "$FROM_RESULTS" ]; then
        echo "- Tables rebuilt (BENCH_FROM_RESULTS) from the results of an earlier run of the same settings."
    else
        echo "- Run time: $((ELAPSED / 60)) min $((ELAPSED % 60)) s including the build."
    fi
    echo
    echo "## Summary (medians; ratio = NetCore's figure ÷ the peer's, measured in the same run)"
    echo
    cat "$SUMMARY"
    if [ -s "$TARGETS" ]; then
        echo
        echo "## Targets of the web-server and TLS points"
        echo
        echo "| Point | Target | Figure | Verdict |"
        echo "|---|---|---:|---|"
        cat "$TARGETS"
    fi
    if [ -n "$REST_NOTES" ]; then
        echo
        printf '%s' "$REST_NOTES"
    fi
    if [ -n "$CROSSCHECK" ]; then
        echo
        echo "## netbench is not the bottleneck"
        echo
        echo "The same point driven by netbench and by the independent C load generator \`shared/tools/loadgen.c\`"
        echo "(against the C echo server, 64 connections, 64-byte ping-pong; and keep-alive GET / against nginx-hello,"
        echo "the fastest HTTP server here; the two alternating run by run); netbench must reach ≥ 90 % of loadgen's"
        echo "rate. The ratio is the median of the per-run ratios."
        echo
        echo "| Point | Metric | netbench | loadgen | netbench ÷ loadgen | Verdict |"
        echo "|---|---|---:|---:|---:|---|"
        echo "$CROSSCHECK"
    fi
    echo
    echo "## Details (medians)"
    echo
    cat "$DETAILS"
    echo
    echo "## What is measured"
    echo
    echo "- **Servers.** NetCore: \`echo-server --port N --quiet\` and \`unix-http --socket PATH --root DIR --quiet\`"
    echo "  (release build). Node: \`Benchmarks/peers/echo-server.js\` (the seed's example 3-2 with an error handler),"
    echo "  \`unix-http-seed.js\` (example 3-4: 100 \`res.write\` calls, then the file) and \`unix-http-onechunk.js\` (the"
    echo "  100 lines as one write). C: \`peers/echo-epoll.c\` (level-triggered epoll, non-blocking, one \`writev\` per"
    echo "  chunk, partial writes buffered). nginx: \`peers/nginx.conf\`, one worker, serving the file **statically with"
    echo "  Content-Length** (no counter lines, no chunked framing: $COUNTER_BYTES fewer body bytes per response)."
    echo "  Every measurement starts a fresh server process and stops it afterwards."
    echo "- **Echo** points: msgs/s are round trips completed per second over all connections; MB/s is payload one way."
    echo "- **Who is the bottleneck.** With $NPROC CPUs the server and the load generator get one CPU each, and on"
    echo "  loopback the sender also pays for the receiver's TCP processing, so client and server costs are close. When"
    echo "  the *Load generator CPU %* column nears 100 %, the figure is bounded by the client as much as by the server"
    echo "  (the cross-check compares netbench with a C client on such a point; at several GB/s netbench's per-read"
    echo "  copy, made by NetCore's Socket, shows: see the 1 GiB point's load generator CPU)."
    echo "- **Idle connections**: the server's VmRSS (summed over its process tree) read by run.sh before connecting,"
    echo "  after holding $(fmt "$IDLE_CONNS" 0) idle connections for ${HOLD} s, and after one 64-byte echo on each; divided by the"
    echo "  connections. User-space memory only: kernel socket buffers are not in VmRSS."
    echo "- **HTTP** points: keep-alive GET \`/?file=F\`, one request in flight per connection, every response parsed and"
    echo "  its body length checked (non-200s, framing errors and wrong lengths count as errors)."
    echo "  The ${BIG_MB} MiB point is one request on one connection (MB/s from the request to the last byte); the"
    echo "  server's peak RSS is its VmHWM afterwards. The Node peers are not run there: the seed reads the whole file"
    echo "  into one string with \`readFileSync(file, 'utf8')\`, which cannot hold ${BIG_MB} MiB."
    echo "- **Workers**: \`echo-server --workers 2\` (two event loops on two threads, each with its own \`SO_REUSEPORT\`"
    echo "  listener) against the same server with one worker, 64 connections, nothing pinned: the load generator's"
    echo "  thread and the server's threads share the machine's CPUs, so on 2 cores a second worker can only take"
    echo "  what the load generator leaves idle. The ratio is the scaling, not a comparison with a peer."
    echo "- **Start-up**: \`netbench startup\` spawns the server (pinned like the others) and probes it every 0.2 ms"
    echo "  with a blocking connect plus one echo (or one HTTP request); the time runs from just before the spawn to the"
    echo "  first answer. Median of $STARTUP_REPEAT spawns per run."
    echo "- **Web servers** (the course's programs, TCP on 127.0.0.1, 64 keep-alive connections, one request in flight"
    echo "  on each, every response parsed and its status and body length checked): \`hello-server\` (the seed's"
    echo "  server1.js: 200 text/html, body written in two chunks) against \`peers/server1.js\` on Node and nginx"
    echo "  (\`peers/nginx-hello.conf\`: \`return 200 '<h1>Hello Node!</h1>Hello Server!'\` with"
    echo "  \`default_type 'text/html; charset=utf-8'\`: same status, Content-Type and body, but sent with Content-Length"
    echo "  since nginx cannot chunk a static return). \`rest-server\` against \`peers/restServer.js\` (the seed's, its"
    echo "  per-request console.log silenced with --quiet as rest-server's is): GET /users after \`PUT /user/1..$REST_USERS\`"
    echo "  (PUT, not POST: the seed's POST ids are Date.now(), and Node's POSTs within one millisecond overwrite each"
    echo "  other; both then answer the same JSON), and POST /user \`{\"name\":\"kim\"}\` → 201 for the whole run: the"
    echo "  map grows (NetCore one user per POST, Node at most one per millisecond); the users at the end are listed"
    echo "  under the targets."
    echo "- **Keep-alive HTTP connections**: as the idle point, with \`netbench conns --http /\`: $(fmt "$HTTP_IDLE_CONNS" 0)"
    echo "  connections held idle (\"connected, no request yet\"), then one GET / answered on each, the connections kept"
    echo "  open (\"after one request\"); hello-server runs with \`--keep-alive-timeout $KEEP_ALIVE_MS\`, Node's server1.js"
    echo "  with its default 5 s, which does not bite: the memory is read within about a second of the responses."
    echo "- **TLS** points (issue 11): one ECDSA P-256 certificate made by run.sh, TLSv1.2–1.3 with each server's"
    echo "  defaults (TLS 1.3, AES-128-GCM or ChaCha20 as negotiated; session tickets on, never used: netbench offers no"
    echo "  session, so every handshake is a full one). netbench \`--tls insecure\` (one client context for all"
    echo "  connections). Peers: \`peers/tls-echo-server.js\` (the seed's echo server on \`tls.createServer\`),"
    echo "  \`peers/unix-http-onechunk.js\` with a certificate (\`https.createServer\`), nginx with \`ssl\` on the same"
    echo "  configurations as the plain points. *Per server CPU-second*: the figure divided by the server's CPU time"
    echo "  (user + system, from /proc) over the measured window (the bulk point: over the whole download); the"
    echo "  handshake rate itself is bounded by netbench, whose side of a handshake costs about as much as the server's."
    echo "- **hello-server --workers**: \`--workers N\` is N worker processes (a supervisor forks them; each has its own"
    echo "  SO_REUSEPORT listener) against the plain single-process server, nothing pinned: the scaling on this"
    echo "  machine, where a second worker competes with the load generator for the 2 CPUs."
    echo
    echo "<details><summary>Raw RESULT lines (point server run key=value…)</summary>"
    echo
    echo '```'
    cat "$RESULTS"
    echo '```'
    echo
    echo "</details>"
} >"$OUT"

echo
echo "NetCore benchmarks — $KIND"
echo "$NPROC cores, Linux $KERNEL; $PINNING"
echo
cat "$SUMMARY"
if [ -s "$TARGETS" ]; then
    echo
    echo "| Point | Target | Figure | Verdict |"
    echo "|---|---|---:|---|"
    cat "$TARGETS"
fi
[ -n "$REST_NOTES" ] && { echo; printf '%s' "$REST_NOTES"; }
if [ -n "$CROSSCHECK" ]; then
    echo
    echo "| Point | Metric | netbench | loadgen | netbench ÷ loadgen | Verdict |"
    echo "|---|---|---:|---:|---:|---|"
    echo "$CROSSCHECK"
fi
echo
cat "$DETAILS"
echo
echo "Written to $OUT (total $((ELAPSED / 60)) min $((ELAPSED % 60)) s)."
