#!/usr/bin/env bash
# Instructions per echoed 64-byte message on the plain echo server (Benchmarks/README.md, "Instructions per request
# (callgrind)"): echo-server (release) under callgrind on CPU 0, a ping-pong client on CPU 1 sending a fixed number
# of 64-byte messages over 64 connections, then SIGTERM so callgrind writes its totals. Two runs with different
# message counts; start-up and shutdown cancel out in the difference:
#   instructions per message = (I2 - I1) / (64 * N2 - 64 * N1)
# The client is a small Python program (stdlib only): only the server is counted, so its speed does not matter, and
# the message count is exact (netbench's echo mode is timed, not counted).
#
#   Benchmarks/callgrind.sh              # builds .build-bench (release) if needed; prints the figure
#   CG_N1=200 CG_N2=600 CG_CONNS=64 Benchmarks/callgrind.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SCRATCH=${CG_SCRATCH:-.build-bench}
N1=${CG_N1:-200}
N2=${CG_N2:-600}
CONNS=${CG_CONNS:-64}
B=$SCRATCH/release
if [[ ${CG_NO_BUILD:-0} != 1 ]]; then
    swift build -c release --scratch-path "$SCRATCH" --product echo-server >/dev/null
fi
CPU_SERVER=0
CPU_CLIENT=1
if [[ $(nproc) -lt 2 ]]; then CPU_CLIENT=0; fi

client() {  # port messages-per-connection
    taskset -c $CPU_CLIENT python3 - "$1" "$2" "$CONNS" <<'PY'
import selectors, socket, sys, time
port, per, conns = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
deadline = time.time() + 120
while True:
    try:
        socket.create_connection(("127.0.0.1", port)).close(); break
    except OSError:
        if time.time() > deadline: sys.exit("server did not start")
        time.sleep(0.2)
payload = bytes(range(97, 97 + 26)) * 3
payload = payload[:64]
expected = b"Repeating: " + payload
sel = selectors.DefaultSelector()
state = {}
for _ in range(conns):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.setblocking(False)
    state[s] = [0, b""]
    sel.register(s, selectors.EVENT_READ)
# Connect all first, then start: the connection set-up is the same in both runs and cancels out.
for s in state: s.send(payload)
left = conns
while left:
    for key, _ in sel.select(timeout=60):
        s = key.fileobj
        st = state[s]
        st[1] += s.recv(65536)
        while len(st[1]) >= len(expected):
            if st[1][:len(expected)] != expected: sys.exit("corrupt echo")
            st[1] = st[1][len(expected):]
            st[0] += 1
            if st[0] == per:
                sel.unregister(s); s.close(); left -= 1
                break
            s.send(payload)
PY
}

measure() {  # port messages-per-connection -> prints the "Collected" total
    local port=$1 per=$2 out=/tmp/cg.echo.$2.$$.out
    taskset -c $CPU_SERVER valgrind --tool=callgrind --callgrind-out-file=$out \
        --log-file=/tmp/cg.echo.$per.$$.log "$B/echo-server" --port "$port" --host 127.0.0.1 --quiet >/dev/null 2>&1 &
    local pid=$!
    client "$port" "$per"
    kill -TERM $pid; wait $pid || true
    grep -o 'Collected : [0-9]*' /tmp/cg.echo.$per.$$.log | awk '{print $3}'
    rm -f /tmp/cg.echo.$per.$$.log
    [[ ${CG_KEEP:-0} == 1 ]] || rm -f $out
}

PORT1=$((24000 + RANDOM % 2000))
I1=$(measure $PORT1 "$N1")
I2=$(measure $((PORT1 + 1)) "$N2")
echo "I1=$I1 ($CONNS x $N1 messages)  I2=$I2 ($CONNS x $N2 messages)"
echo "instructions per echoed 64-byte message: $(( (I2 - I1) / (CONNS * N2 - CONNS * N1) ))"
