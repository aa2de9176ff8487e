#!/usr/bin/env bash
# Runs Autobahn|Testsuite's fuzzingclient against chat-server's /echo endpoint and prints the counts per behaviour;
# with --client, its fuzzingserver against our client (AutobahnClientTests, through `swift test`).
#
#   scripts/autobahn.sh [--cases "1.*,2.*"] [--bin DIR] [--client [--release]]
#
# Cases default to 1–10 (about 2 minutes; 12 and 13 are permessage-deflate, ~10 more minutes: --cases "*").
# Autobahn is Python 2 only: it runs on pyenv's Python 2.7.18 in a virtualenv made by a Python 3 venv's
# virtualenv<20.22 (the last that can create 2.7 environments), all under .build/autobahn/. Without Python 2.7 the
# script says so and exits 0 (skipped). It exits 1 when any case's behaviour is not OK, NON-STRICT or INFORMATIONAL.
set -euo pipefail
cd "$(dirname "$0")/.."

cases="1.*,2.*,3.*,4.*,5.*,6.*,7.*,8.*,9.*,10.*"
bin=".build/debug"
mode="server"
test_configuration="debug"
while [ $# -gt 0 ]; do
    case "$1" in
        --client) mode="client"; shift ;;
        --release) test_configuration="release"; release_flags=(-Xswiftc -enable-testing); shift ;;  # the tests use @testable
        --cases) cases="$2"; shift 2 ;;
        --bin) bin="$2"; shift 2 ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) echo "autobahn: unknown argument $1" >&2; exit 2 ;;
    esac
done

python27="${AUTOBAHN_PYTHON27:-$HOME/.pyenv/versions/2.7.18/bin/python2.7}"
if [ ! -x "$python27" ]; then
    python27="$(command -v python2.7 || true)"
fi
if [ -z "$python27" ] || [ ! -x "$python27" ]; then
    echo "autobahn: SKIPPED: Python 2.7 not found (pyenv's 2.7.18 or python2.7 on PATH); Autobahn|Testsuite needs it"
    exit 0
fi

work="$PWD/.build/autobahn"
mkdir -p "$work"
if [ ! -x "$work/py27/bin/wstest" ]; then
    echo "== autobahn: setting up Python 2.7 virtualenv with autobahntestsuite==25.10.1 (once)"
    python3 -m venv "$work/venv3"
    "$work/venv3/bin/pip" install -q --disable-pip-version-check "virtualenv<20.22"
    "$work/venv3/bin/virtualenv" -q -p "$python27" "$work/py27"
    "$work/py27/bin/pip" install -q --disable-pip-version-check "autobahntestsuite==25.10.1"
fi

summarise() {
python3 - "$1" <<'PY'
import json, sys, collections
index = json.load(open(sys.argv[1]))
results = index["NetCore"]
counts = collections.Counter(r["behavior"] for r in results.values())
close = collections.Counter(r["behaviorClose"] for r in results.values())
print("autobahn: %d cases: %s" % (len(results), ", ".join("%s %d" % kv for kv in sorted(counts.items()))))
print("autobahn: close behaviour: %s" % ", ".join("%s %d" % kv for kv in sorted(close.items())))
def key(case):
    return [int(part) for part in case.split(".")]
bad = sorted((c for c, r in results.items() if r["behavior"] not in ("OK", "NON-STRICT", "INFORMATIONAL")), key=key)
for case in bad:
    print("autobahn: FAILED %s: %s (close %s)" % (case, results[case]["behavior"], results[case]["behaviorClose"]))
sys.exit(1 if bad else 0)
PY
}

case_list="$(python3 -c 'import json,sys; print(json.dumps([c.strip() for c in sys.argv[1].split(",") if c.strip()]))' "$cases")"

if [ "$mode" = client ]; then
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    reports="$work/reports-client"
    rm -rf "$reports"
    cat >"$work/fuzzingserver.json" <<JSON
{
  "url": "ws://127.0.0.1:$port",
  "outdir": "$reports",
  "cases": $case_list,
  "exclude-cases": [],
  "exclude-agent-cases": {}
}
JSON
    (cd "$work" && exec py27/bin/wstest -m fuzzingserver -s fuzzingserver.json >wstest-server.log 2>&1) &
    fuzzer=$!
    trap 'kill "$fuzzer" 2>/dev/null || true; wait "$fuzzer" 2>/dev/null || true' EXIT
    for _ in $(seq 1 100); do
        python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2)' "$port" 2>/dev/null && break
        sleep 0.2
    done
    echo "== autobahn: fuzzingserver on ws://127.0.0.1:$port, cases $cases, driving our client"
    AUTOBAHN_FUZZINGSERVER="ws://127.0.0.1:$port" swift test -c "$test_configuration" ${release_flags[@]+"${release_flags[@]}"} --filter AutobahnClientTests >"$work/client-test.log" 2>&1 || {
        echo "autobahn: the client run failed:" >&2
        tail -20 "$work/client-test.log" >&2
        exit 1
    }
    summarise "$reports/index.json"
    exit $?
fi

if [ ! -x "$bin/chat-server" ]; then
    echo "== autobahn: building chat-server"
    swift build --product chat-server
fi

log="$work/chat-server.log"
"$bin/chat-server" --port 0 --host 127.0.0.1 --quiet >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT
port=""
for _ in $(seq 1 100); do
    port="$(grep -o '127.0.0.1:[0-9]*' "$log" | head -1 | cut -d: -f2 || true)"
    [ -n "$port" ] && break
    sleep 0.1
done
if [ -z "$port" ]; then
    echo "autobahn: chat-server did not start:" >&2
    cat "$log" >&2
    exit 1
fi

reports="$work/reports"
rm -rf "$reports"
cat >"$work/fuzzingclient.json" <<JSON
{
  "outdir": "$reports",
  "servers": [{"agent": "NetCore", "url": "ws://127.0.0.1:$port/echo"}],
  "cases": $case_list,
  "exclude-cases": [],
  "exclude-agent-cases": {}
}
JSON
echo "== autobahn: fuzzingclient, cases $cases, against ws://127.0.0.1:$port/echo"
(cd "$work" && py27/bin/wstest -m fuzzingclient -s fuzzingclient.json >wstest.log 2>&1) || {
    echo "autobahn: wstest failed:" >&2
    tail -20 "$work/wstest.log" >&2
    exit 1
}

summarise "$reports/index.json"
