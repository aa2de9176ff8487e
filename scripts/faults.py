#!/usr/bin/env python3
"""NetCore's fault suite: real echo-server and unix-http processes, real loopback sockets, misbehaving peers.

Each case states a fault, what must hold afterwards, and checks it; the run ends with a summary table
(case, result, figure) and exits 1 if any check failed. Every wait is bounded. Started by scripts/reliability.sh,
which builds the release binaries and writes the parser's rejection corpus first; run that, not this file.

    faults.py --bin DIR --rejected FILE [--quick] [--only CASE[,CASE...]] [--soak SECONDS] [--list]

Exit status: 0 every check passed; 1 a check failed; 2 usage error.
"""

import argparse
import hashlib
import os
import random
import resource
import selectors
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

CLK_TCK = os.sysconf('SC_CLK_TCK')
PREFIX = b'Repeating: '
COUNTER = b''.join(b'%d\n' % i for i in range(100))  # unix-http's body starts with the lines 0..99
RST = struct.pack('ii', 1, 0)  # SO_LINGER on, 0 s: close() sends a reset


# ---------------------------------------------------------------------------------------------------------------
# Helpers: bounded waits, processes, clients


def wait_until(predicate, timeout, interval=0.02):
    """Polls `predicate` until it is true or `timeout` seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


class Server:
    """A server process of ours: its stdout/stderr go to files; /proc gives descriptors, memory and CPU time."""

    def __init__(self, work, name, argv, nofile=None):
        self.name = name
        self.out_path = os.path.join(work, f'{name}.{time.monotonic_ns()}.out')
        self.err_path = self.out_path[:-4] + '.err'

        def limit():
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        with open(self.out_path, 'wb') as out, open(self.err_path, 'wb') as err:
            self.process = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                            preexec_fn=limit)
        self.pid = self.process.pid

    def stdout(self):
        with open(self.out_path, 'rb') as f:
            return f.read().decode('utf-8', 'replace')

    def stderr(self):
        with open(self.err_path, 'rb') as f:
            return f.read().decode('utf-8', 'replace')

    def wait_output(self, text, timeout=10):
        return wait_until(lambda: text in self.stdout() or not self.alive(), timeout) and text in self.stdout()

    def alive(self):
        return self.process.poll() is None

    def fds(self):
        try:
            return len(os.listdir(f'/proc/{self.pid}/fd'))
        except OSError:
            return -1

    def status_kb(self, field):
        try:
            with open(f'/proc/{self.pid}/status') as f:
                for line in f:
                    if line.startswith(field + ':'):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def rss_kb(self):
        return self.status_kb('VmRSS')

    def cpu_seconds(self):
        try:
            with open(f'/proc/{self.pid}/stat') as f:
                fields = f.read().rsplit(')', 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / CLK_TCK
        except OSError:
            return 0.0

    def stable_fds(self, quiet=0.3, timeout=10):
        """The descriptor count once it has not changed for `quiet` seconds (connections just closed by a client are
        still being closed by the server for a moment)."""
        deadline = time.monotonic() + timeout
        last, since = self.fds(), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.02)
            now = self.fds()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                break
        return last

    def fd_kinds(self):
        """What the open descriptors are, counted by kind (socket, pipe, anon_inode:[eventpoll], a file path...)."""
        kinds = {}
        try:
            for fd in os.listdir(f'/proc/{self.pid}/fd'):
                try:
                    target = os.readlink(f'/proc/{self.pid}/fd/{fd}')
                except OSError:
                    continue
                kind = target.split(':[')[0] if ':[' in target else target
                kinds[kind] = kinds.get(kind, 0) + 1
        except OSError:
            pass
        return kinds

    def settle_fds(self, baseline, timeout=10):
        """Waits for the descriptor count to return to `baseline`; returns the last count."""
        wait_until(lambda: self.fds() == baseline, timeout)
        return self.fds()

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Sends `sig` and waits (bounded); kills after the timeout. Returns the exit status (None if killed)."""
        if self.alive():
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
            return None


class Suite:
    def __init__(self, bin_dir, work, quick, rejected):
        self.bin = bin_dir
        self.work = work
        self.quick = quick
        self.rejected = rejected
        self.servers = []

    def size(self, full, quick):
        return quick if self.quick else full

    def echo_server(self, *extra, nofile=None):
        server = Server(self.work, 'echo-server',
                        [os.path.join(self.bin, 'echo-server'), '--port', '0', '--host', '127.0.0.1', '--quiet',
                         *extra], nofile=nofile)
        self.servers.append(server)
        if not server.wait_output('listening on port '):
            raise RuntimeError(f'echo-server did not start: {server.stderr()}')
        line = next(l for l in server.stdout().splitlines() if l.startswith('listening on port '))
        server.port = int(line.split()[-1])
        return server

    def http_root(self):
        """A fresh root with small.txt (1 KiB) and big.bin (a sparse 1 GiB file: no disk blocks, reads as zeros)."""
        root = tempfile.mkdtemp(dir=self.work, prefix='root.')
        with open(os.path.join(root, 'small.txt'), 'wb') as f:
            f.write((b'0123456789abcdef' * 64))
        with open(os.path.join(root, 'big.bin'), 'wb') as f:
            f.truncate(1 << 30)
        return root

    def http_server(self, *extra, root=None, path=None):
        root = root or self.http_root()
        path = path or tempfile.mktemp(dir=self.work, prefix='http.', suffix='.sock')
        server = Server(self.work, 'unix-http',
                        [os.path.join(self.bin, 'unix-http'), '--socket', path, '--root', root, '--quiet', *extra])
        self.servers.append(server)
        if not server.wait_output('listening on '):
            raise RuntimeError(f'unix-http did not start: {server.stderr()}')
        server.path, server.root = path, root
        return server

    def cleanup(self):
        for server in self.servers:
            if server.alive():
                server.stop(signal.SIGKILL, 5)


def echo_roundtrip(port, payload=b'probe', timeout=5):
    """One echo on a fresh TCP connection; returns the round-trip time in seconds, or None if it failed."""
    start = time.monotonic()
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=timeout) as s:
            s.sendall(payload)
            expected = PREFIX + payload
            got = b''
            while len(got) < len(expected):
                chunk = s.recv(len(expected) - len(got))
                if not chunk:
                    return None
                got += chunk
            return time.monotonic() - start if got == expected else None
    except OSError:
        return None


def unix_connect(path, timeout=5):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # A blocking connect: with a timeout set, Python connects non-blocking, and a Unix socket whose backlog is full
    # then fails at once with EAGAIN instead of waiting for room.
    s.connect(path)
    s.settimeout(timeout)
    return s


def read_to_eof(s, limit=1 << 24):
    """Reads until EOF, a reset or a timeout; returns (data, how) with how in eof/reset/timeout."""
    data = b''
    while len(data) < limit:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            return data, 'timeout'
        except (ConnectionResetError, BrokenPipeError):
            return data, 'reset'
        if not chunk:
            return data, 'eof'
        data += chunk
    return data, 'limit'


def dechunk(data):
    """Decodes one chunked body from `data`; returns (body, complete)."""
    body, cursor = [], 0
    while True:
        line_end = data.find(b'\r\n', cursor)
        if line_end < 0:
            return b''.join(body), False
        size = int(data[cursor:line_end].split(b';')[0], 16)
        cursor = line_end + 2
        if size == 0:
            return b''.join(body), data[cursor:cursor + 2] == b'\r\n'
        if len(data) < cursor + size + 2:
            return b''.join(body), False
        body.append(data[cursor:cursor + size])
        cursor += size + 2


def http_get(path, target='/?file=small.txt', timeout=5):
    """One GET with Connection: close; returns (status, body, seconds) or (None, b'', seconds) on failure."""
    start = time.monotonic()
    try:
        with unix_connect(path, timeout) as s:
            s.sendall(f'GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'.encode())
            data, _ = read_to_eof(s)
    except OSError:
        return None, b'', time.monotonic() - start
    head, _, rest = data.partition(b'\r\n\r\n')
    try:
        status = int(head.split(b' ', 2)[1])
    except (IndexError, ValueError):
        return None, b'', time.monotonic() - start
    body, complete = dechunk(rest) if b'chunked' in head.lower() else (rest, True)
    return (status if complete else None), body, time.monotonic() - start


def small_ok(server):
    status, body, _ = http_get(server.path)
    return status == 200 and body == COUNTER + b'0123456789abcdef' * 64


class KeepAliveClient:
    """A keep-alive HTTP client on a Unix socket that times each GET of small.txt."""

    def __init__(self, path):
        self.sock = unix_connect(path, 10)
        self.buffer = b''

    def get(self):
        start = time.monotonic()
        self.sock.sendall(b'GET /?file=small.txt HTTP/1.1\r\nHost: localhost\r\n\r\n')
        while True:
            head_end = self.buffer.find(b'\r\n\r\n')
            if head_end >= 0:
                body, complete = dechunk(self.buffer[head_end + 4:])
                if complete:
                    status = int(self.buffer.split(b' ', 2)[1])
                    # The response ends with the last chunk; find where to cut the buffer.
                    end = self.buffer.find(b'\r\n0\r\n\r\n', head_end) + 7
                    self.buffer = self.buffer[end:]
                    return status, time.monotonic() - start
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError('closed by the server')
            self.buffer += chunk

    def close(self):
        self.sock.close()


def latency_run(path, seconds, stop=None):
    """GETs small.txt back to back on one keep-alive connection for `seconds` (or until `stop` is set); returns
    (latencies in ms, failures)."""
    latencies, failures = [], 0
    client = KeepAliveClient(path)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not (stop and stop.is_set()):
        try:
            status, took = client.get()
            latencies.append(took * 1000)
            if status != 200:
                failures += 1
        except OSError:
            failures += 1
            client.close()
            client = KeepAliveClient(path)
        time.sleep(0.01)  # pacing, not synchronisation: ~100 requests per second
    client.close()
    return latencies, failures


def p(values, q):
    if not values:
        return float('nan')
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ---------------------------------------------------------------------------------------------------------------
# Results


class Case:
    def __init__(self, name):
        self.name = name
        self.checks = []
        self.figures = []

    def check(self, ok, what):
        self.checks.append((bool(ok), what))
        return ok

    def figure(self, text):
        self.figures.append(text)

    @property
    def passed(self):
        return bool(self.checks) and all(ok for ok, _ in self.checks)


# ---------------------------------------------------------------------------------------------------------------
# The cases. Each takes (suite, case) and records checks and figures.


def case_reset_echo(suite, case):
    """Peers reset (SO_LINGER 0) while echo-server is mid-write to them: it keeps serving, descriptors return."""
    server = suite.echo_server()
    case.check(echo_roundtrip(server.port), 'echo works before')
    baseline = server.stable_fds()
    clients = suite.size(100, 20)
    pushed = 0
    sockets = []
    for _ in range(clients):
        s = socket.create_connection(('127.0.0.1', server.port), timeout=5)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        s.setblocking(False)
        block = os.urandom(65536)
        idle_since = time.monotonic()
        # Push without reading until the server stops taking data (its replies are stuck in our small buffer).
        while time.monotonic() - idle_since < 0.3 and pushed < (1 << 30):
            try:
                pushed += s.send(block)
                idle_since = time.monotonic()
            except BlockingIOError:
                time.sleep(0.005)
        sockets.append(s)
    for s in sockets:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RST)
        s.close()
    after = server.settle_fds(baseline)
    case.check(server.alive(), 'server still running')
    case.check(after == baseline, f'descriptors back to baseline ({baseline} -> {after})')
    case.check(echo_roundtrip(server.port), 'echo works after')
    errors = [l for l in server.stderr().splitlines() if l]
    unexpected = [l for l in errors if not ('ECONNRESET' in l or 'EPIPE' in l)]
    case.check(not unexpected, f'stderr has only reset lines ({unexpected[:2]})')
    case.figure(f'{clients} resets with {pushed >> 20} MiB pushed; fds {baseline}->{after}; '
                f'{len(errors)} reset lines')


def case_reset_http(suite, case):
    """Peers reset mid-response (1 GiB body, 64 KiB read): unix-http keeps serving, descriptors return."""
    server = suite.http_server()
    case.check(small_ok(server), 'GET works before')
    baseline = server.stable_fds()
    clients = suite.size(100, 20)
    for _ in range(clients):
        s = unix_connect(server.path)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        s.sendall(b'GET /?file=big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n')
        got = 0
        while got < 65536:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += len(chunk)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RST)
        s.close()
    after = server.settle_fds(baseline)
    case.check(server.alive(), 'server still running')
    case.check(after == baseline, f'descriptors back to baseline ({baseline} -> {after})')
    case.check(small_ok(server), 'GET works after')
    case.figure(f'{clients} resets mid-response; fds {baseline}->{after}')


def case_emfile(suite, case):
    """Descriptor exhaustion: echo-server under `ulimit -n 64`, 200 clients at once, twice."""
    server = suite.echo_server(nofile=64)
    baseline = server.stable_fds()
    bursts = []
    for burst in range(2):
        clients = []
        for _ in range(200):
            try:
                clients.append(socket.create_connection(('127.0.0.1', server.port), timeout=5))
            except OSError:
                pass
        # Each client sends one byte: a held connection answers, a shed one was closed at once.
        for s in clients:
            try:
                s.sendall(b'x')
            except OSError:
                pass
        held, shed = [], 0
        for s in clients:
            s.settimeout(5)
            try:
                data = s.recv(64)
            except (ConnectionResetError, socket.timeout):
                data = b''
            if data.startswith(PREFIX):
                held.append(s)
            else:
                shed += 1
                s.close()
        # While exhausted and with 50 more clients knocking, the server must not spin.
        cpu_before, wall_before = server.cpu_seconds(), time.monotonic()
        knocking = []
        for _ in range(50):
            try:
                knocking.append(socket.create_connection(('127.0.0.1', server.port), timeout=2))
            except OSError:
                pass
        time.sleep(1.5)  # a measurement window, not synchronisation
        cpu = (server.cpu_seconds() - cpu_before) / (time.monotonic() - wall_before) * 100
        for s in knocking:
            s.close()
        for s in held:
            s.close()
        after = server.settle_fds(baseline)
        recovered_at = time.monotonic()
        answered = wait_until(lambda: echo_roundtrip(server.port, timeout=1), 5, 0.01)
        recovery_ms = (time.monotonic() - recovered_at) * 1000
        logged = sum('EMFILE' in l for l in server.stderr().splitlines())
        case.check(server.alive(), f'burst {burst + 1}: server still running')
        case.check(0 < len(held) < 64 and shed > 0, f'burst {burst + 1}: some held ({len(held)}), rest shed ({shed})')
        case.check(cpu < 10, f'burst {burst + 1}: no spin while exhausted ({cpu:.1f}% CPU)')
        case.check(logged == burst + 1, f'burst {burst + 1}: EMFILE logged once per burst ({logged} lines)')
        case.check(after == baseline, f'burst {burst + 1}: descriptors back ({baseline} -> {after})')
        case.check(answered, f'burst {burst + 1}: accepts again once descriptors are free')
        bursts.append(f'held {len(held)}, shed {shed}, {cpu:.1f}% CPU, recovered in {recovery_ms:.0f} ms')
    case.figure('ulimit -n 64, 2 bursts of 200+50: ' + '; '.join(bursts) + f'; EMFILE lines {logged}')


def sample_rss(server, stop, samples):
    while not stop.is_set():
        samples.append(server.rss_kb())
        time.sleep(0.05)


def case_slow_reader_http(suite, case):
    """A client reads a 1 GiB response at 1 KiB/s: unix-http's memory stays bounded, others are served normally."""
    server = suite.http_server()
    before, failures_before = latency_run(server.path, 2)
    baseline_rss = server.rss_kb()
    slow = unix_connect(server.path, 10)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    slow.sendall(b'GET /?file=big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n')
    seconds = suite.size(15, 4)
    stop, samples = threading.Event(), []
    sampler = threading.Thread(target=sample_rss, args=(server, stop, samples))
    sampler.start()
    result = {}
    others = threading.Thread(target=lambda: result.update(zip(('lat', 'fail'), latency_run(server.path, seconds))))
    others.start()
    read, start = 0, time.monotonic()
    while time.monotonic() - start < seconds:
        chunk = slow.recv(1024)
        if not chunk:
            break
        read += len(chunk)
        time.sleep(max(0.0, read / 1024 - (time.monotonic() - start)))  # pacing at 1 KiB/s
    others.join()
    stop.set()
    sampler.join()
    slow.close()
    peak = max(samples) if samples else 0
    during = result.get('lat', [])
    case.check(server.alive(), 'server still running')
    case.check(peak - baseline_rss < 8 * 1024, f'VmRSS growth < 8 MiB ({peak - baseline_rss} KiB)')
    case.check(during and result.get('fail') == 0, f'other client: {len(during)} GETs, {result.get("fail")} failed')
    case.check(p(during, 0.99) < 50, f'other client p99 < 50 ms ({p(during, 0.99):.2f} ms)')
    case.figure(f'slow reader read {read} B in {seconds} s; VmRSS {baseline_rss}->{peak} KiB peak; other client '
                f'p50 {p(before, 0.5):.2f}->{p(during, 0.5):.2f} ms, p99 {p(before, 0.99):.2f}->'
                f'{p(during, 0.99):.2f} ms ({len(during)} GETs)')


def case_slow_reader_echo(suite, case):
    """A client floods echo-server at full speed but reads 1 KiB/s: memory bounded, others served normally."""
    server = suite.echo_server()
    echo_roundtrip(server.port)
    baseline_rss = server.rss_kb()
    flood = socket.create_connection(('127.0.0.1', server.port), timeout=5)
    flood.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    flood.setblocking(False)
    seconds = suite.size(15, 4)
    stop, samples = threading.Event(), []
    sampler = threading.Thread(target=sample_rss, args=(server, stop, samples))
    sampler.start()
    block = os.urandom(65536)
    sent, read, latencies, failures = 0, 0, [], 0
    start = next_read = next_probe = time.monotonic()
    while time.monotonic() - start < seconds:
        now = time.monotonic()
        try:
            sent += flood.send(block)
        except BlockingIOError:
            time.sleep(0.002)
        if now >= next_read:
            try:
                read += len(flood.recv(1024))
            except BlockingIOError:
                pass
            next_read += 1.0
        if now >= next_probe:
            took = echo_roundtrip(server.port, timeout=2)
            if took is None:
                failures += 1
            else:
                latencies.append(took * 1000)
            next_probe += 0.05
    stop.set()
    sampler.join()
    flood.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RST)
    flood.close()
    peak = max(samples) if samples else 0
    case.check(server.alive(), 'server still running')
    case.check(sent < (1 << 30), f'the server stopped taking data ({sent >> 20} MiB taken)')
    case.check(peak - baseline_rss < 8 * 1024, f'VmRSS growth < 8 MiB ({peak - baseline_rss} KiB)')
    case.check(latencies and failures == 0, f'other clients: {len(latencies)} echoes, {failures} failed')
    case.check(p(latencies, 0.99) < 50, f'other clients p99 < 50 ms ({p(latencies, 0.99):.2f} ms)')
    case.figure(f'flooder pushed {sent >> 20} MiB then was held back, read {read} B in {seconds} s; VmRSS '
                f'{baseline_rss}->{peak} KiB peak; other clients p50 {p(latencies, 0.5):.2f} ms, '
                f'p99 {p(latencies, 0.99):.2f} ms ({len(latencies)} echoes)')


def case_slowloris(suite, case):
    """500 connections send one header byte per second: the headers timeout closes them with 408."""
    timeout_ms = suite.size(5000, 2000)
    server = suite.http_server('--headers-timeout', str(timeout_ms))
    baseline = server.stable_fds()
    count = 500
    head = b'GET /?file=small.txt HTTP/1.1\r\nHost: localhost\r\nX-Slow: ' + b'z' * 4096
    sockets = [unix_connect(server.path, 10) for _ in range(count)]
    for s in sockets:
        s.setblocking(False)
    stop = threading.Event()

    def drip():
        position = 0
        while not stop.is_set() and position < len(head):
            for s in sockets:
                try:
                    s.send(head[position:position + 1])
                except OSError:
                    pass
            position += 1
            stop.wait(1.0)

    dripper = threading.Thread(target=drip)
    started = time.monotonic()
    dripper.start()
    latencies, failures = latency_run(server.path, timeout_ms / 1000 + 1)
    # Collect each slow connection's answer: a 408 then EOF, within the timeout plus a margin.
    answers, closed = {}, 0
    selector = selectors.DefaultSelector()
    for s in sockets:
        selector.register(s, selectors.EVENT_READ, b'')
    deadline = started + timeout_ms / 1000 + 10
    while selector.get_map() and time.monotonic() < deadline:
        for key, _ in selector.select(0.2):
            try:
                chunk = key.fileobj.recv(4096)
            except (ConnectionResetError, BlockingIOError):
                chunk = b''
            if chunk:
                answers[key.fileobj] = answers.get(key.fileobj, b'') + chunk
            else:
                closed += 1
                selector.unregister(key.fileobj)
    last_close = time.monotonic() - started
    stop.set()
    dripper.join()
    for s in sockets:
        s.close()
    got_408 = sum(1 for data in answers.values() if data.startswith(b'HTTP/1.1 408'))
    after = server.settle_fds(baseline)
    case.check(server.alive(), 'server still running')
    case.check(closed == count, f'all {count} closed by the server ({closed})')
    case.check(got_408 == count, f'all answered 408 ({got_408})')
    case.check(latencies and failures == 0, f'normal client: {len(latencies)} GETs, {failures} failed')
    case.check(p(latencies, 0.99) < 50, f'normal client p99 < 50 ms ({p(latencies, 0.99):.2f} ms)')
    case.check(after == baseline, f'descriptors back ({baseline} -> {after})')
    case.figure(f'{count} slow clients, --headers-timeout {timeout_ms}: {got_408} got 408, all closed by '
                f'{last_close:.1f} s; normal client p50 {p(latencies, 0.5):.2f} ms, p99 {p(latencies, 0.99):.2f} ms '
                f'({len(latencies)} GETs)')


def case_storm(suite, case):
    """20,000 connect/close cycles as fast as possible, on echo-server (TCP) and unix-http (Unix socket)."""
    cycles = suite.size(20000, 2000)
    figures = []
    for kind in ('echo', 'http'):
        server = suite.echo_server() if kind == 'echo' else suite.http_server()
        ok_before = echo_roundtrip(server.port) if kind == 'echo' else small_ok(server)
        baseline = server.stable_fds()
        rss_before = server.rss_kb()
        errors = 0
        start = time.monotonic()
        for i in range(cycles):
            try:
                if kind == 'echo':
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    s.settimeout(5)
                    s.connect(('127.0.0.1', server.port))
                else:
                    s = unix_connect(server.path)
                style = i % 3
                if style == 1:
                    s.send(b'x' if kind == 'echo' else b'GET /?file=small.txt HTTP/1.1\r\nHost: l\r\n\r\n')
                if style == 2:  # a reset instead of a FIN (and no TIME_WAIT left on the client's port)
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RST)
                s.close()
            except OSError:
                errors += 1
        rate = cycles / (time.monotonic() - start)
        after = server.settle_fds(baseline, 20)
        rss_after = server.rss_kb()
        ok_after = echo_roundtrip(server.port) if kind == 'echo' else small_ok(server)
        case.check(ok_before and ok_after and server.alive(), f'{kind}: serving before and after')
        case.check(errors == 0, f'{kind}: every connect succeeded ({errors} errors)')
        case.check(after == baseline, f'{kind}: descriptors back ({baseline} -> {after})')
        # 1 MiB over 20,000 connections is ~50 bytes each: a per-connection leak shows (one found this way held
        # ~2 KiB per connection, another ~190 bytes until the timer's deadline).
        case.check(rss_after - rss_before < 1024, f'{kind}: VmRSS growth < 1 MiB ({rss_after - rss_before} KiB)')
        figures.append(f'{kind}: {cycles} cycles at {rate:,.0f}/s, fds {baseline}->{after}, '
                       f'VmRSS {rss_before}->{rss_after} KiB')
    case.figure('; '.join(figures))


def case_kill9_restart(suite, case):
    """kill -9 leaves unix-http's socket file behind; a restart on the same path recovers it and serves."""
    first = suite.http_server()
    path, root = first.path, first.root
    first.process.kill()
    first.process.wait(5)
    case.check(os.path.exists(path), 'the socket file was left behind by kill -9')
    start = time.monotonic()
    second = suite.http_server(root=root, path=path)
    took = (time.monotonic() - start) * 1000
    case.check(second.alive(), 'restart did not exit (no EADDRINUSE)')
    case.check(small_ok(second), 'the restarted server answers')
    status = second.stop()
    case.check(status == 0 and not os.path.exists(path), f'SIGTERM: exit {status}, socket file removed')
    case.figure(f'stale file recovered; restart to listening in {took:.0f} ms')


def case_sigterm_response(suite, case):
    """SIGTERM while a large response is in flight: a reading client gets it whole; a stalled one is cut cleanly
    after the 5 s grace; the process exits 0 and removes its socket file."""
    megabytes = suite.size(1024, 256)
    root = suite.http_root()
    with open(os.path.join(root, 'big.bin'), 'wb') as f:
        f.truncate(megabytes << 20)
    # A reading client: the response completes.
    server = suite.http_server(root=root)
    s = unix_connect(server.path, 30)
    s.sendall(b'GET /?file=big.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')
    data = bytearray()
    while len(data) < (1 << 20):
        data += s.recv(1 << 20)
    server.process.send_signal(signal.SIGTERM)
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        data += chunk
    s.close()
    head, _, rest = bytes(data).partition(b'\r\n\r\n')
    body, complete = dechunk(rest)
    status = server.stop(timeout=20)
    case.check(head.startswith(b'HTTP/1.1 200') and complete and len(body) == len(COUNTER) + (megabytes << 20),
               f'reading client: complete response ({len(body)} body bytes, complete={complete})')
    case.check(status == 0, f'exit status 0 ({status})')
    case.check(not os.path.exists(server.path), 'socket file removed')
    # A stalled client: cut after the grace period.
    server = suite.http_server(root=root)
    s = unix_connect(server.path, 30)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    s.sendall(b'GET /?file=big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n')
    s.recv(4096)
    signalled = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    status = server.stop(timeout=20)
    took = time.monotonic() - signalled
    _, how = read_to_eof(s, limit=1 << 62)
    s.close()
    case.check(status == 0 and took < 10, f'stalled client: exit {status} after {took:.1f} s')
    case.check(how in ('eof', 'reset'), f'stalled client: connection closed ({how})')
    case.check(not os.path.exists(server.path), 'socket file removed')
    case.figure(f'{megabytes} MiB response completed after SIGTERM; stalled reader cut, exit 0 after {took:.1f} s')


def case_half_open(suite, case):
    """1,000 clients send, FIN, and do not read: echo-server ends them all (default) or summarises then ends
    (--allow-half-open)."""
    count = suite.size(1000, 200)
    figures = []
    for half_open in (False, True):
        server = suite.echo_server(*(['--allow-half-open'] if half_open else []))
        baseline = server.stable_fds()
        clients = []
        for _ in range(count):
            s = socket.create_connection(('127.0.0.1', server.port), timeout=10)
            s.sendall(b'hello')
            s.shutdown(socket.SHUT_WR)
            clients.append(s)
        start = time.monotonic()
        after = server.settle_fds(baseline, 20)
        took = time.monotonic() - start
        expected = PREFIX + b'hello' + (b'received 5 bytes in 1 messages\n' if half_open else b'')
        right = 0
        for s in clients:
            s.settimeout(5)
            data, how = read_to_eof(s)
            right += data == expected and how == 'eof'
            s.close()
        label = '--allow-half-open' if half_open else 'default'
        case.check(server.alive(), f'{label}: server still running')
        case.check(after == baseline, f'{label}: server closed all {count} ({baseline} -> {after} fds)')
        case.check(right == count, f'{label}: {right}/{count} got {expected!r} then EOF')
        figures.append(f'{label}: {count} closed in {took:.2f} s, {right} exact replies')
    case.figure('; '.join(figures))


def case_integrity(suite, case):
    """64 clients each send 50 MB of random data through echo-server and get every byte back in order."""
    clients = suite.size(64, 8)
    per_client = suite.size(50_000_000, 4_000_000)
    server = suite.echo_server()
    selector = selectors.DefaultSelector()
    states = []
    for i in range(clients):
        s = socket.create_connection(('127.0.0.1', server.port), timeout=10)
        s.setblocking(False)
        # Random bytes with 'R' mapped to 'r': every 'R' in the reply then starts a "Repeating: " prefix.
        state = {'sock': s, 'rng': random.Random(1000 + i), 'left': per_client, 'block': b'',
                 'sent': hashlib.sha256(), 'got': hashlib.sha256(), 'got_bytes': 0, 'pending': b'', 'eof': False}
        states.append(state)
        selector.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, state)
    start = time.monotonic()
    deadline = start + suite.size(600, 120)
    open_count = clients
    while open_count and time.monotonic() < deadline:
        for key, events in selector.select(1.0):
            state, s = key.data, key.fileobj
            if events & selectors.EVENT_WRITE:
                if not state['block'] and state['left']:
                    size = min(65536, state['left'])
                    state['block'] = state['rng'].randbytes(size).replace(b'R', b'r')
                    state['sent'].update(state['block'])
                    state['left'] -= size
                try:
                    state['block'] = state['block'][s.send(state['block']):]
                except BlockingIOError:
                    pass
                if not state['block'] and not state['left']:
                    s.shutdown(socket.SHUT_WR)
                    selector.modify(s, selectors.EVENT_READ, state)
            if events & selectors.EVENT_READ:
                try:
                    chunk = s.recv(262144)
                except BlockingIOError:
                    continue
                if not chunk:
                    state['eof'] = True
                    selector.unregister(s)
                    s.close()
                    open_count -= 1
                    continue
                pending = (state['pending'] + chunk).replace(PREFIX, b'')
                cut = pending.rfind(b'R')
                data, state['pending'] = (pending[:cut], pending[cut:]) if cut >= 0 else (pending, b'')
                state['got'].update(data)
                state['got_bytes'] += len(data)
    seconds = time.monotonic() - start
    intact = sum(1 for st in states if st['eof'] and not st['pending'] and st['got_bytes'] == per_client
                 and st['got'].digest() == st['sent'].digest())
    total = clients * per_client
    case.check(intact == clients, f'{intact}/{clients} streams intact (SHA-256, length, order)')
    case.check(server.alive(), 'server still running')
    case.figure(f'{clients} x {per_client / 1e6:.0f} MB = {total / 1e6:,.0f} MB echoed intact in {seconds:.1f} s '
                f'({total / seconds / 1e6:.0f} MB/s each way)')


# Hostile requests beyond the parser's unit tests (those come from --rejected), each with the status expected.
EXTRA_HOSTILE = [
    ('oversized header (64 KiB value)', b'GET / HTTP/1.1\r\nHost: h\r\nX: ' + b'a' * 65536 + b'\r\n\r\n', 431),
    ('10,000 small headers', b'GET / HTTP/1.1\r\nHost: h\r\n' + b'X: y\r\n' * 10000 + b'\r\n', 431),
    ('request line of 1 MiB', b'GET /' + b'a' * (1 << 20) + b' HTTP/1.1\r\nHost: h\r\n\r\n', 414),
    ('chunk size ffffffffffffffff', b'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n'
     b'ffffffffffffffff\r\n', 413),
    ('chunk size 64 hex digits', b'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n'
     + b'f' * 64 + b'\r\n', 413),
    ('Content-Length -1', b'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n', 400),
    ('Content-Length 2^64', b'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551616\r\n\r\n', 400),
    ('NUL in the target', b'GET /?file=a\x00b HTTP/1.1\r\nHost: h\r\n\r\n', 400),
    ('NUL in a header value', b'GET / HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n\r\n', 400),
    ('non-UTF-8 target', b'GET /?file=\xff\xfe HTTP/1.1\r\nHost: h\r\n\r\n', 400),
    ('TLS ClientHello', bytes.fromhex('16030100c8010000c40303') + os.urandom(64), 400),
    ('HTTP/2 preface', b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 505),
    ('random binary', bytes(random.Random(5).randrange(256) for _ in range(4096)), 400),
    # "EOF …": the client half-closes right after sending; a request the EOF cut off can never complete.
    ('EOF in the middle of a head', b'GET /?file=small.txt HTTP/1.1\r\nHos', 400),
    ('EOF in the middle of a body', b'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc', 400),
    ('EOF in the middle of a chunk', b'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab', 400),
]


def case_hostile_http(suite, case):
    """Every request the parser's rejection tests refuse, plus the extra hostile inputs above, over a real Unix
    socket to unix-http: each gets its 4xx/5xx and a closed connection, within 5 s."""
    server = suite.http_server()
    baseline = server.stable_fds()
    requests = []
    with open(suite.rejected) as f:
        for number, line in enumerate(f, 1):
            status, hexed = line.split()
            requests.append((f'parser test #{number}', bytes.fromhex(hexed), int(status)))
    requests += EXTRA_HOSTILE
    failures, other_status = [], []
    slowest = 0.0
    for name, data, expected in requests:
        start = time.monotonic()
        try:
            s = unix_connect(server.path, 5)
            try:
                s.sendall(data)
                if name.startswith('EOF'):
                    s.shutdown(socket.SHUT_WR)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server may answer and close before a large hostile input is fully sent
            reply, how = read_to_eof(s)
            s.close()
        except OSError as e:
            reply, how = b'', repr(e)
        slowest = max(slowest, time.monotonic() - start)
        status_line = reply.split(b'\r\n', 1)[0]
        # After a head was accepted, an earlier response may precede the error's: the last status line counts.
        statuses = [int(l.split(b' ')[1]) for l in reply.split(b'\r\n') if l.startswith(b'HTTP/1.1 ')]
        if how in ('eof', 'reset') and statuses and statuses[-1] != expected and min(statuses) >= 400:
            # A pipelined request before the bad one was itself refused (unix-http answers POST with 405 and
            # closes), so the parser's status never comes: still a 4xx and a close.
            other_status.append(f'{name}: {statuses}')
        elif how not in ('eof', 'reset') or not statuses or statuses[-1] != expected:
            failures.append(f'{name}: expected {expected}, got {status_line[:40]!r} ({how})')
            print(f'   {failures[-1]}', flush=True)
    after = server.settle_fds(baseline)
    case.check(not failures, f'{len(requests) - len(failures)}/{len(requests)} answered as expected and closed'
               + (f'; first failures: {failures[:3]}' if failures else ''))
    case.check(server.alive(), 'server still running')
    case.check(after == baseline, f'descriptors back ({baseline} -> {after})')
    case.check(small_ok(server), 'a normal GET works after')
    case.figure(f'{len(requests)} hostile requests ({len(requests) - len(EXTRA_HOSTILE)} from the parser tests): '
                f'{len(requests) - len(failures) - len(other_status)} got the expected status and a close, '
                f'{len(other_status)} an earlier 4xx and a close; slowest {slowest * 1000:.0f} ms')


CASES = {
    'reset-echo': case_reset_echo,
    'reset-http': case_reset_http,
    'emfile': case_emfile,
    'slow-reader-http': case_slow_reader_http,
    'slow-reader-echo': case_slow_reader_echo,
    'slowloris': case_slowloris,
    'storm': case_storm,
    'kill9-restart': case_kill9_restart,
    'sigterm-response': case_sigterm_response,
    'half-open': case_half_open,
    'integrity': case_integrity,
    'hostile-http': case_hostile_http,
}


# ---------------------------------------------------------------------------------------------------------------
# Soak


def soak(suite, case, seconds):
    """Mixed load on echo-server and unix-http for `seconds`, a share of it misbehaving; afterwards descriptors
    must equal their starting values and VmRSS must be within 2 MiB of it (both taken after a warm-up)."""
    echo = suite.echo_server()
    http = suite.http_server()
    stop = threading.Event()
    counts = {'echo': 0, 'http': 0, 'bad': 0, 'errors': 0}
    lock = threading.Lock()

    def count(key, n=1):
        with lock:
            counts[key] += n

    def echo_worker():
        while not stop.is_set():
            try:
                with socket.create_connection(('127.0.0.1', echo.port), timeout=5) as s:
                    for _ in range(200):
                        payload = os.urandom(random.randrange(1, 2048)).replace(b'R', b'r')
                        s.sendall(payload)
                        want, got = PREFIX + payload, b''
                        # The server may split or merge replies; strip prefixes from what arrives.
                        while len(got.replace(PREFIX, b'')) < len(payload):
                            chunk = s.recv(65536)
                            if not chunk:
                                raise ConnectionError('closed')
                            got += chunk
                        if got.replace(PREFIX, b'') != payload or not got.startswith(want[:11]):
                            count('errors')
                        count('echo')
            except OSError:
                count('errors')

    def http_worker():
        while not stop.is_set():
            try:
                client = KeepAliveClient(http.path)
                for _ in range(200):
                    status, _ = client.get()
                    count('http' if status == 200 else 'errors')
                client.close()
            except OSError:
                count('errors')

    def misbehaving_worker():
        rng = random.Random(3)
        while not stop.is_set():
            kind = rng.randrange(6)
            try:
                if kind == 0:  # reset mid-response
                    s = unix_connect(http.path)
                    s.sendall(b'GET /?file=big.bin HTTP/1.1\r\nHost: l\r\n\r\n')
                    s.recv(65536)
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RST)
                    s.close()
                elif kind == 1:  # half-open echo client that never reads
                    s = socket.create_connection(('127.0.0.1', echo.port), timeout=5)
                    s.sendall(b'bye')
                    s.shutdown(socket.SHUT_WR)
                    s.close()
                elif kind == 2:  # garbage HTTP
                    s = unix_connect(http.path)
                    s.sendall(os.urandom(512))
                    read_to_eof(s)
                    s.close()
                elif kind == 3:  # an incomplete head, then gone
                    s = unix_connect(http.path)
                    s.sendall(b'GET /?file=small.txt HTTP/1.1\r\nHos')
                    s.close()
                elif kind == 4:  # echo flood then reset
                    s = socket.create_connection(('127.0.0.1', echo.port), timeout=5)
                    s.setblocking(False)
                    try:
                        for _ in range(64):
                            s.send(b'z' * 65536)
                    except BlockingIOError:
                        pass
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RST)
                    s.close()
                else:  # path traversal and a missing file
                    for target in ('/?file=../../etc/passwd', '/?file=missing.txt', '/etc/passwd'):
                        status, _, _ = http_get(http.path, target)
                        if status not in (400, 403, 404):
                            count('errors')
                count('bad')
            except OSError:
                count('bad')
            stop.wait(0.02)

    def run_load(duration):
        stop.clear()
        threads = [threading.Thread(target=w) for w in (echo_worker, echo_worker, http_worker, http_worker,
                                                         misbehaving_worker)]
        for t in threads:
            t.start()
        stop.wait(duration)
        stop.set()
        for t in threads:
            t.join(30)

    run_load(min(20, seconds / 10))  # warm-up: allocator pools and caches reach their working size
    for server in (echo, http):
        server.baseline = (server.stable_fds(), server.rss_kb())
    for key in counts:
        counts[key] = 0
    start = time.monotonic()
    run_load(seconds)
    took = time.monotonic() - start
    figures = []
    for name, server in (('echo-server', echo), ('unix-http', http)):
        fds0, rss0 = server.baseline
        fds1 = server.settle_fds(fds0, 20)
        rss1 = server.rss_kb()
        hwm = server.status_kb('VmHWM')
        case.check(server.alive(), f'{name}: still running')
        case.check(fds1 == fds0, f'{name}: descriptors back ({fds0} -> {fds1})'
                   + ('' if fds1 == fds0 else f' {server.fd_kinds()}'))
        case.check(rss1 - rss0 <= 2048, f'{name}: VmRSS within 2 MiB ({rss0} -> {rss1} KiB)')
        figures.append(f'{name}: fds {fds0}->{fds1}, VmRSS {rss0}->{rss1} KiB (peak {hwm})')
    case.check(counts['errors'] == 0, f'well-behaved clients saw no errors ({counts["errors"]})')
    case.figure(f'{took:.0f} s: {counts["echo"]:,} echoes, {counts["http"]:,} GETs, {counts["bad"]:,} misbehaving '
                f'clients; ' + '; '.join(figures))


# ---------------------------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description='NetCore fault suite (run scripts/reliability.sh)')
    parser.add_argument('--bin', required=True, help='directory with release echo-server and unix-http')
    parser.add_argument('--rejected', required=True, help='the parser rejection corpus ("<status> <hex>" lines)')
    parser.add_argument('--quick', action='store_true', help='smaller sizes (CI)')
    parser.add_argument('--only', help='comma-separated case names')
    parser.add_argument('--soak', type=float, metavar='SECONDS', help='run the soak instead of the cases')
    parser.add_argument('--list', action='store_true', help='list the cases and exit')
    args = parser.parse_args()
    if args.list:
        for name, function in CASES.items():
            print(f'{name:18} {function.__doc__.split(chr(10))[0]}')
        return 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)

    names = list(CASES)
    if args.only:
        names = args.only.split(',')
        unknown = [n for n in names if n not in CASES]
        if unknown:
            print(f'faults.py: unknown case(s) {unknown}; have {list(CASES)}', file=sys.stderr)
            return 2

    results = []
    with tempfile.TemporaryDirectory(prefix='netcore-faults.') as work:
        suite = Suite(args.bin, work, args.quick, args.rejected)
        plan = [('soak', lambda s, c: soak(s, c, args.soak))] if args.soak else [(n, CASES[n]) for n in names]
        for name, function in plan:
            case = Case(name)
            print(f'== {name}', flush=True)
            start = time.monotonic()
            try:
                function(suite, case)
            except Exception as error:  # a case that blows up is a failed case, and the others still run
                where = traceback.extract_tb(error.__traceback__)[-1]
                case.check(False, f'raised {type(error).__name__}: {error} (faults.py:{where.lineno} {where.line})')
            finally:
                for server in suite.servers:
                    text = server.stderr() if os.path.exists(server.err_path) else ''
                    if 'Fatal error' in text or 'AddressSanitizer' in text or server.process.poll() in (-6, -11, -4, -5, -7, -8):
                        case.check(False, f'{server.name} crashed: {text[-300:]}')
                suite.cleanup()
                suite.servers.clear()
            seconds = time.monotonic() - start
            for ok, what in case.checks:
                print(f'   {"ok  " if ok else "FAIL"} {what}', flush=True)
            results.append((case, seconds))

    print()
    print(f'{"case":18} {"result":6} {"time":>6}  figure')
    for case, seconds in results:
        print(f'{case.name:18} {"PASS" if case.passed else "FAIL":6} {seconds:5.0f}s  {" | ".join(case.figures)}')
    failed = [case.name for case, _ in results if not case.passed]
    print(f'\n{len(results) - len(failed)}/{len(results)} cases passed' + (f'; FAILED: {", ".join(failed)}'
                                                                          if failed else ''))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
