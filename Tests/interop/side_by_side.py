#!/usr/bin/env python3
"""The course's Node programs and NetCore's servers, side by side (issue 10 §4).

For each pair (seed 000's Node program in Tests/fixtures/seeds vs the NetCore binary that reimplements it) both
servers are started on free loopback ports and the same request scripts are run against both with three clients:
curl (`curl -sS -i`), Python's http.client, and Node's http.request (Tests/interop/node_client.js). Each response is
checked against course-spec.md, and the two sides are compared: status, Content-Type, Location, Set-Cookie
structure, Connection, framing where the seed's framing is visible, and bodies, with ids compared by shape (`\\d{13}`
millisecond ids, 32-hex session ids) and dates by format and time (IMF-fixdate, within ±10 s of each other and of
now, Expires of now + 5 min).

Then a bad-input list runs against both, where the outcomes are meant to differ: the seed crashes or misbehaves
(its bugs are kept on purpose: JSON.parse outside try, decodeURIComponent that throws, Date.now() ids,
path.join(__dirname, req.url)), NetCore answers a clear 4xx and stays up (and still serves a follow-up request).
Both sides of that are asserted, and what Node did is recorded (no response, process exit and its stderr line,
leaked /etc/passwd, lost users). NetCore's expected answers: bad JSON 400, a body over 1 MiB 413, traversal 403/404,
a wrong method 405 with Allow, a malformed cookie escape 400; a guessed session id gets the login page (200), as
course-spec.md says.

Differences the spec leaves open (a Content-Type the seed does not send, a redirect's body, framing other than
server1.js's write + end) are printed as NOTE lines and do not fail the run.

The front-end files (restFront.html, about.html, restFront.css, restFront.js, cookie2.html) are copied into the Node
side's folder from Sources/NetCoreTools/WebAssets/files next to --bin (or in this checkout, or --assets DIR); until
they exist, minimal stand-ins are used and those bodies are not compared with NetCore's.

    python3 Tests/interop/side_by_side.py --node-only              # the Node side alone: validates the harness
    swift build && python3 Tests/interop/side_by_side.py           # NetCore's .build/debug binaries vs the seed
    python3 Tests/interop/side_by_side.py --bin .build/release --only rest,session --clients curl

    side_by_side.py [--bin DIR] [--only NAME[,NAME...]] [--clients curl,python,node] [--node-only] [--no-bad]
                    [--assets DIR] [--list]

Pairs: hello (server1.js), hello-file (server2.js), rest (restServer.js), cookie (cookie.js),
login (cookie2.js), session (session.js). Fixture names (server2.js) and binary names work with --only too.
Every server runs in a fresh temp folder on a free port, so runs can go in parallel.
One line per check, then `N passed, N failed`. Exit status: 0 all passed, 1 a check failed, 2 usage error.
Needs node (v20) and curl on PATH; Python 3.11, standard library only.
"""

import argparse
import base64
import email.utils
import http.client
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, 'Tests', 'fixtures', 'seeds')
NODE_CLIENT = os.path.join(ROOT, 'Tests', 'interop', 'node_client.js')
ASSETS_SUBPATH = os.path.join('Sources', 'NetCoreTools', 'WebAssets', 'files')

HOST = '127.0.0.1'
START_TIMEOUT = 10.0  # seconds for a server's ready line
REQUEST_TIMEOUT = 5.0  # seconds for one request, every client
EXIT_TIMEOUT = 5.0  # seconds for a crashing Node process to be gone
TIME_SLACK = 10.0  # seconds: dates and ids compared with now and with each other

HTML = 'text/html; charset=utf-8'
PLAIN = 'text/plain; charset=utf-8'
JSON_TYPE = 'application/json; charset=utf-8'

IMF_FIXDATE = re.compile(
    r'^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} '
    r'\d{2}:\d{2}:\d{2} GMT$')
MILLIS_ID = re.compile(r'(?<![0-9])[0-9]{13}(?![0-9])')
HEX_SESSION_ID = re.compile(r'(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])')
READY_PORT = [re.compile(r'http://\[[^\]]+\]:(\d+)/'), re.compile(r'http://[^:/\[]+:(\d+)/')]
KOREAN_NAME = '한글'
KOREAN_QUERY = '%ED%95%9C%EA%B8%80'  # encodeURIComponent('한글'): what the clients send and the seed's cookie holds
MALFORMED_ESCAPE = '%E0%A4%A'  # decodeURIComponent throws URIError on it


# ---------------------------------------------------------------------------------------------------------------
# Results


class Report:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.notes = 0

    def check(self, ok, name, detail):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        print(f'{"PASS" if ok else "FAIL"}  {name}: {detail}', flush=True)
        return ok

    def note(self, name, detail):
        self.notes += 1
        print(f'NOTE  {name}: {detail}', flush=True)


# ---------------------------------------------------------------------------------------------------------------
# Requests and responses


def request(method, path, headers=None, body=None):
    return {'method': method, 'path': path, 'headers': dict(headers or {}), 'body': body}


def json_request(method, path, value):
    return request(method, path, {'Content-Type': 'application/json'}, json.dumps(value, ensure_ascii=False))


class Response:
    """One answer as a client saw it, or why there was none (`error`)."""

    def __init__(self, status=None, version='1.1', headers=(), body=b'', error=None):
        self.status = status
        self.version = version
        self.headers = list(headers)
        self.body = body
        self.error = error
        self.received = time.time()

    def header(self, name):
        values = self.all(name)
        return values[0] if values else None

    def all(self, name):
        return [value for key, value in self.headers if key.lower() == name.lower()]

    def text(self):
        return self.body.decode('utf-8', errors='replace')

    def summary(self):
        if self.error:
            return f'no response ({self.error})'
        return f'{self.status} {self.header("content-type")!r} {shorten(self.text())!r}'


def shorten(text, limit=80):
    return text if len(text) <= limit else text[:limit] + '…'


def wait_next_millisecond(previous):
    """The seed's ids are Date.now(): the next request must reach the server in a later millisecond than the last
    answer left it, or two users share one id. Both processes read the same clock, so 2 ms after the previous answer
    arrived is enough. A bounded clock wait, not synchronisation with the server."""
    deadline = previous + 0.002
    while time.time() < deadline:
        time.sleep(0.0005)


# ---------------------------------------------------------------------------------------------------------------
# The three clients. Each runs a scenario's requests one by one against (host, port); a scenario is a generator
# that sends a request and decides the next one from the answer (ids, cookies).


class CurlClient:
    name = 'curl'

    def __init__(self, port):
        self.port = port

    def send(self, req):
        argv = ['curl', '-sS', '-i', '--path-as-is', '--max-time', str(REQUEST_TIMEOUT), '-X', req['method']]
        for key, value in req['headers'].items():
            argv += ['-H', f'{key}: {value}']
        if req['body'] is not None:
            argv += ['--data-binary', '@-']
        argv.append(f'http://{HOST}:{self.port}{req["path"]}')
        data = req['body'].encode('utf-8') if req['body'] is not None else b''
        try:
            done = subprocess.run(argv, input=data, capture_output=True, timeout=REQUEST_TIMEOUT + 5)
        except subprocess.TimeoutExpired:
            return Response(error='curl timed out')
        if done.returncode != 0:
            return Response(error=done.stderr.decode('utf-8', 'replace').strip() or f'curl exit {done.returncode}')
        return parse_curl_output(done.stdout)

    def close(self):
        pass


def parse_curl_output(output):
    """`curl -i` prints each header block (1xx ones too) followed by the final body."""
    rest = output
    while True:
        head, separator, rest = rest.partition(b'\r\n\r\n')
        if not separator:
            return Response(error='curl printed no complete header block')
        lines = head.decode('latin-1').split('\r\n')
        match = re.match(r'HTTP/(\d(?:\.\d)?) (\d{3})', lines[0])
        if not match:
            return Response(error=f'curl printed an odd status line {lines[0]!r}')
        status = int(match.group(2))
        if 100 <= status < 200:
            continue
        headers = []
        for line in lines[1:]:
            key, _, value = line.partition(':')
            headers.append((key.strip(), value.strip().encode('latin-1').decode('utf-8', 'replace')))
        return Response(status, match.group(1), headers, rest)


class PythonClient:
    name = 'python'

    def __init__(self, port):
        self.connection = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)

    def send(self, req):
        body = req['body'].encode('utf-8') if req['body'] is not None else None
        try:
            self.connection.request(req['method'], req['path'], body=body, headers=req['headers'])
            answer = self.connection.getresponse()
            data = answer.read()
            version = {10: '1.0', 11: '1.1'}.get(answer.version, str(answer.version))
            headers = [(k, v.encode('latin-1').decode('utf-8', 'replace')) for k, v in answer.getheaders()]
            return Response(answer.status, version, headers, data)
        except (OSError, http.client.HTTPException) as error:
            self.connection.close()
            return Response(error=f'{type(error).__name__}: {error}')

    def close(self):
        self.connection.close()


class NodeClient:
    name = 'node'

    def __init__(self, port):
        self.port = port

    def send(self, req):
        message = json.dumps({'host': HOST, 'port': self.port, 'requests': [req]})
        try:
            done = subprocess.run(['node', NODE_CLIENT], input=message.encode('utf-8'), capture_output=True,
                                  timeout=REQUEST_TIMEOUT + 10)
        except subprocess.TimeoutExpired:
            return Response(error='node_client.js timed out')
        if done.returncode != 0:
            return Response(error=f'node_client.js exit {done.returncode}: {done.stderr.decode("utf-8", "replace")}')
        try:
            answer = json.loads(done.stdout)[0]
        except (ValueError, IndexError) as error:
            return Response(error=f'node_client.js printed no JSON: {error}')
        if 'error' in answer:
            return Response(error=f'{answer["error"]}: {answer.get("message", "")}')
        return Response(answer['status'], answer['httpVersion'], [tuple(pair) for pair in answer['headers']],
                        base64.b64decode(answer['bodyBase64']))

    def close(self):
        pass


CLIENTS = {'curl': CurlClient, 'python': PythonClient, 'node': NodeClient}


def raw_exchange(port, data, method='GET', expect_continue_body=None):
    """Sends bytes exactly as given (no client normalises `/../`) and reads one response, or says why none came.
    With expect_continue_body, the head is sent first with `Expect: 100-continue` and the body only after a 100
    (or after 2 s without an answer, as curl does), so a server may refuse a large body before it is sent."""
    try:
        with socket.create_connection((HOST, port), timeout=REQUEST_TIMEOUT) as sock:
            sock.sendall(data)
            reader = sock.makefile('rb')
            if expect_continue_body is not None:
                # select, not a socket timeout: a timed-out socket file cannot be read again.
                answered, _, _ = select.select([sock], [], [], 2.0)
                if answered:
                    line = reader.readline()
                    if line.startswith(b'HTTP/1.1 100'):
                        while reader.readline() not in (b'\r\n', b'\n', b''):
                            pass
                        sock.sendall(expect_continue_body)
                        return read_response(sock, reader, method)
                    return read_response(sock, reader, method, line)
                sock.sendall(expect_continue_body)
            return read_response(sock, reader, method)
    except (OSError, http.client.HTTPException) as error:
        return Response(error=f'{type(error).__name__}: {error}')


def read_response(sock, reader, method, first_line=b''):
    """Reads one response from `reader`; the reader stays open for the next one (pipelining)."""
    answer = http.client.HTTPResponse(sock, method=method)
    answer.fp.close()
    answer.fp = SharedReader(reader, first_line)
    answer.begin()
    data = answer.read()
    version = {10: '1.0', 11: '1.1'}.get(answer.version, str(answer.version))
    return Response(answer.status, version, answer.getheaders(), data)


class SharedReader:
    """A file-like reader over a socket's reader that first gives back a line already read, and that
    http.client.HTTPResponse cannot close (it closes its reader at the end of each body)."""

    def __init__(self, reader, prefix=b''):
        self.prefix = prefix
        self.reader = reader

    def readline(self, limit=-1):
        if self.prefix:
            line, self.prefix = self.prefix, b''
            return line
        return self.reader.readline(limit)

    def read(self, amount=None):
        head, self.prefix = self.prefix, b''
        if amount is None:
            return head + self.reader.read()
        return head + self.reader.read(max(0, amount - len(head)))

    def read1(self, amount=-1):
        return self.read(amount if amount >= 0 else None)

    def readinto(self, buffer):
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def flush(self):
        pass

    def close(self):
        pass


# ---------------------------------------------------------------------------------------------------------------
# Server processes


def free_port():
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class ServerProcess:
    """A server started in its own folder, its output collected by reader threads, ready when it prints its ready
    line (bounded wait)."""

    def __init__(self, label, argv, cwd, env=None, port=None):
        self.label = label
        self.port = port
        self.lines = []
        self.stderr = []
        self.changed = threading.Condition()
        self.process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE)
        self.readers = [threading.Thread(target=self.collect, args=(stream, sink), daemon=True)
                        for stream, sink in ((self.process.stdout, self.lines), (self.process.stderr, self.stderr))]
        for reader in self.readers:
            reader.start()

    def collect(self, stream, sink):
        for raw in stream:
            with self.changed:
                sink.append(raw.decode('utf-8', 'replace').rstrip('\n'))
                self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()

    def wait_ready(self):
        """True when the ready line came; parses the port from it when none was given."""
        deadline = time.monotonic() + START_TIMEOUT
        with self.changed:
            while True:
                for line in self.lines:
                    if '대기 중' in line or line.startswith('listening on'):
                        if self.port is None:
                            for pattern in READY_PORT:
                                match = pattern.search(line)
                                if match:
                                    self.port = int(match.group(1))
                                    break
                        return self.port is not None
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.process.poll() is not None:
                    return False
                self.changed.wait(min(remaining, 0.1))

    def wait_for_lines(self, predicate, timeout=REQUEST_TIMEOUT):
        deadline = time.monotonic() + timeout
        with self.changed:
            while not predicate(list(self.lines)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.changed.wait(min(remaining, 0.1))
            return True

    def wait_exit(self, timeout=EXIT_TIMEOUT):
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def alive(self):
        return self.process.poll() is None

    def why_not_ready(self):
        code = self.process.poll()
        if code is not None:
            self.drain()
        state = f'exit {code}' if code is not None else f'no ready line within {START_TIMEOUT:.0f} s'
        with self.changed:
            errors = [line.strip() for line in self.stderr if re.search(r'error|Error|EADDRINUSE', line)][:2]
            output = ' | '.join(errors + [line for line in (self.lines + self.stderr)[-3:] if line not in errors])
        return f'{state}: {shorten(output, 240)}'

    def drain(self, timeout=5.0):
        """After the process is gone: waits (bounded) until the readers have seen the end of its output."""
        deadline = time.monotonic() + timeout
        for reader in self.readers:
            reader.join(max(0.0, deadline - time.monotonic()))

    def stderr_text(self):
        if self.wait_exit(1.0) is not None:
            self.drain()
        with self.changed:
            return '\n'.join(self.stderr)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            if self.wait_exit(5.0) is None:
                self.process.kill()
                self.process.wait(5.0)
        self.drain()  # the readers close nothing themselves; closing under a reading thread breaks it
        if not any(reader.is_alive() for reader in self.readers):
            for stream in (self.process.stdout, self.process.stderr):
                stream.close()


class Pair:
    def __init__(self, name, fixture, binary, arguments=(), files=(), aliases=()):
        self.name = name
        self.fixture = fixture
        self.binary = binary
        self.arguments = list(arguments)
        self.files = list(files)  # what the seed reads from its folder
        self.aliases = set(aliases) | {fixture, fixture.removesuffix('.js'), name}


PAIRS = [
    Pair('hello', 'server1.js', 'hello-server', aliases=['hello-server']),
    Pair('hello-file', 'server2.js', 'hello-server', ['--file', './server2.html'], ['server2.html']),
    Pair('rest', 'restServer.js', 'rest-server', files=['restFront.html', 'about.html', 'restFront.css',
                                                         'restFront.js'], aliases=['rest-server']),
    Pair('cookie', 'cookie.js', 'cookie-server', aliases=['cookie-server']),
    Pair('login', 'cookie2.js', 'cookie-server', ['--login'], ['cookie2.html']),
    Pair('session', 'session.js', 'session-server', files=['cookie2.html'], aliases=['session-server']),
]

# Minimal pages used when the real front-end files (Sources/NetCoreTools/WebAssets/files) are not written yet.
STAND_INS = {
    'restFront.html': '<!DOCTYPE html>\n<html lang="ko">\n<head><meta charset="utf-8" /><title>RESTful SERVER</title>'
                      '<link rel="stylesheet" href="./restFront.css" /></head>\n<body><nav><a href="/">Home</a> '
                      '<a href="/about">About</a></nav><form id="form"><input type="text" id="username">'
                      '<button type="submit">등록</button></form><div id="list"></div>'
                      '<script src="./restFront.js"></script></body>\n</html>\n',
    'about.html': '<!DOCTYPE html>\n<html>\n<head><meta charset="utf-8" /><title>RESTful SERVER</title></head>\n'
                  '<body><h2>소개 페이지입니다.</h2><p>사용자 이름을 등록하세요!</p></body>\n</html>\n',
    'restFront.css': 'a { color: blue; text-decoration: none; }\n',
    'restFront.js': "document.getElementById('form').addEventListener('submit', (e) => e.preventDefault());\n",
    'cookie2.html': '<!DOCTYPE html>\n<html>\n<head><meta charset="utf-8" /><title>쿠키&amp;세션 이해하기</title></head>\n'
                    '<body><form action="/login"><input id="name" name="name" placeholder="이름을 입력하세요" />'
                    '<button id="login">로그인</button></form></body>\n</html>\n',
}


class Environment:
    def __init__(self, args):
        self.bin = os.path.abspath(args.bin)
        self.node_only = args.node_only
        self.assets = {}  # file name -> bytes
        self.stand_ins = set()
        self.folders = []
        # The checkout the binaries were built in: walk up --bin lexically (.build/debug is a symlink, so the
        # kernel's `..` would land inside .build).
        candidates = []
        folder = self.bin
        while os.path.dirname(folder) != folder:
            folder = os.path.dirname(folder)
            candidates.append(os.path.join(folder, ASSETS_SUBPATH))
        candidates.append(os.path.join(ROOT, ASSETS_SUBPATH))
        if args.assets:
            candidates.insert(0, args.assets)
        for name in sorted({name for pair in PAIRS for name in pair.files}):
            if name == 'server2.html':
                with open(os.path.join(FIXTURES, name), 'rb') as file:
                    self.assets[name] = file.read()
                continue
            for folder in candidates:
                path = os.path.join(folder, name)
                if os.path.isfile(path):
                    with open(path, 'rb') as file:
                        self.assets[name] = file.read()
                    break
            else:
                self.assets[name] = STAND_INS[name].encode('utf-8')
                self.stand_ins.add(name)

    def folder(self, pair, with_files=True):
        """A fresh folder holding the fixture and the files it reads (both sides run in their own copy)."""
        folder = tempfile.mkdtemp(prefix=f'side-by-side-{pair.name}-')
        self.folders.append(folder)
        shutil.copy(os.path.join(FIXTURES, pair.fixture), folder)
        if with_files:
            for name in pair.files:
                with open(os.path.join(folder, name), 'wb') as file:
                    file.write(self.assets[name])
        return folder

    def start_node(self, pair, folder):
        for _ in range(3):  # the port is picked before Node binds it: retry if another process took it meanwhile
            port = free_port()
            server = ServerProcess(f'node {pair.fixture}', ['node', pair.fixture], folder,
                                   dict(os.environ, PORT=str(port)), port)
            if server.wait_ready():
                return server, None
            why = server.why_not_ready()
            server.stop()
            if 'EADDRINUSE' not in why:
                return None, why
        return None, why

    def start_netcore(self, pair, folder):
        binary = os.path.join(self.bin, pair.binary)
        if not os.access(binary, os.X_OK):
            return None, f'{binary} is not an executable'
        argv = [binary, *pair.arguments, '--port', '0', '--host', HOST]
        server = ServerProcess(f'netcore {pair.binary}', argv, folder)
        if server.wait_ready():
            return server, None
        why = server.why_not_ready()
        server.stop()
        return None, why


# ---------------------------------------------------------------------------------------------------------------
# Steps: what one response must look like. A field in `expect` is checked on both sides; `netcore`/`node` override
# it for one side; fields in `soft` (where the spec is silent and the seed does something else) give NOTE
# lines instead of failures when the sides disagree.


class Step:
    def __init__(self, label, response, expect, node=None, netcore=None, soft=(), compare=None,
                 asset=None):
        self.label = label
        self.response = response
        self.expect = expect
        self.side_expect = {'node': node or {}, 'netcore': netcore or {}}
        self.soft = set(soft)
        self.compare = compare or ['status', 'content-type', 'location', 'set-cookie', 'connection', 'body']
        self.asset = asset


def set_cookie_structure(value, sent_at):
    """(name, value, [(attribute, value)]) with ids and the Expires date replaced by their shape, plus any problem
    with the date."""
    problems = []
    parts = [part.strip() for part in value.split(';')]
    name, _, cookie_value = parts[0].partition('=')
    attributes = []
    for part in parts[1:]:
        key, has_value, attribute = part.partition('=')
        if key.lower() == 'expires':
            problems += date_problems(attribute, sent_at + 300, 'Expires')
            attribute = '<now+5min>'
        attributes.append((key.lower(), attribute if has_value else None))
    return (name, normalise_ids(cookie_value), attributes), problems


def date_problems(text, expected, what):
    if not IMF_FIXDATE.match(text):
        return [f'{what} {text!r} is not an IMF-fixdate']
    try:
        moment = email.utils.parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError):
        return [f'{what} {text!r} does not parse']
    if abs(moment - expected) > TIME_SLACK:
        return [f'{what} {text!r} is {moment - expected:+.0f} s off the expected time']
    return []


def normalise_ids(text):
    """Ids compared by shape: the seed's Date.now() ids and NetCore's 32-hex session ids both become `<ID>` (each
    side's own shape is checked by its expectations). Hex first: a 32-hex id may hold 13 digits in a row."""
    return MILLIS_ID.sub('<ID>', HEX_SESSION_ID.sub('<ID>', text))


def connection_state(response):
    value = (response.header('connection') or '').lower()
    if value:
        return value
    return 'keep-alive' if response.version == '1.1' else 'close'


def framing(response):
    if 'chunked' in (response.header('transfer-encoding') or '').lower():
        return 'chunked'
    return 'content-length' if response.header('content-length') is not None else 'until-close'


def observed(response, field):
    """A field as compared across the sides."""
    if field == 'status':
        return response.status
    if field == 'content-type':
        return response.header('content-type')
    if field == 'location':
        return response.header('location')
    if field == 'set-cookie':  # attribute order aside (RFC 6265 gives it no meaning): see set-cookie-order
        structures = [set_cookie_structure(value, response.received)[0] for value in response.all('set-cookie')]
        return [(name, value, sorted(attributes, key=lambda pair: (pair[0], pair[1] or '')))
                for name, value, attributes in structures]
    if field == 'set-cookie-order':
        return [[key for key, _ in set_cookie_structure(value, response.received)[0][2]]
                for value in response.all('set-cookie')]
    if field == 'connection':
        return connection_state(response)
    if field == 'framing':
        return framing(response)
    if field == 'body':
        return normalise_ids(response.text())
    raise ValueError(field)


def expectation_problems(response, expect):
    """What in the response differs from the expectation; fields: status, content-type (None = absent), location,
    body (exact text), body_contains (regexes), body_check (a function returning problems), set-cookie (a list of
    (name, value regex, [attributes])), framing."""
    if response.error:
        return [f'no response: {response.error}']
    problems = []
    for field, wanted in expect.items():
        if field == 'status':
            if response.status not in (wanted if isinstance(wanted, tuple) else (wanted,)):
                problems.append(f'status {response.status}, expected {wanted}')
        elif field in ('content-type', 'location'):
            if response.header(field) != wanted:
                problems.append(f'{field} {response.header(field)!r}, expected {wanted!r}')
        elif field == 'framing':
            if framing(response) != wanted:
                problems.append(f'framing {framing(response)}, expected {wanted}')
        elif field == 'body':
            text = wanted.decode('utf-8') if isinstance(wanted, bytes) else wanted
            if response.text() != text:
                problems.append(f'body {shorten(response.text())!r}, expected {shorten(text)!r}')
        elif field == 'body_contains':
            for pattern in wanted:
                if not re.search(pattern, response.text()):
                    problems.append(f'body lacks /{pattern}/')
        elif field == 'body_lacks':
            for pattern in wanted:
                if re.search(pattern, response.text()):
                    problems.append(f'body has /{pattern}/')
        elif field == 'body_check':
            problems += wanted(response)
        elif field == 'set-cookie':
            problems += cookie_problems(response, wanted)
        elif field == 'allow':
            if not response.header('allow'):
                problems.append('no Allow header')
        else:
            raise ValueError(field)
    return problems


ORDER_NOTE = 'cookie attribute order'  # a note, not a failure: the order carries no meaning


def cookie_problems(response, wanted):
    values = response.all('set-cookie')
    if len(values) != len(wanted):
        return [f'{len(values)} Set-Cookie headers {values!r}, expected {len(wanted)}']
    problems = []
    for value, (name, value_pattern, attributes) in zip(values, wanted):
        parts = [part.strip() for part in value.split(';')]
        got_name, _, got_value = parts[0].partition('=')
        if got_name != name or not re.fullmatch(value_pattern, got_value):
            problems.append(f'cookie {parts[0]!r}, expected {name}=/{value_pattern}/')
        got_attributes = [part.partition('=')[0].lower() for part in parts[1:]]
        wanted_attributes = [attribute.lower() for attribute in attributes]
        if sorted(got_attributes) != sorted(wanted_attributes):
            problems.append(f'cookie attributes {got_attributes}, expected {attributes}')
        elif got_attributes != wanted_attributes:
            problems.append(f'{ORDER_NOTE} {got_attributes}, the spec and the seed have {wanted_attributes}')
        problems += set_cookie_structure(value, response.received)[1]
    return problems


def common_problems(response):
    """Checked on every response: a Date header that is an IMF-fixdate near now; a Content-Length that is the body's
    length."""
    if response.error:
        return []
    problems = []
    date = response.header('date')
    if date is None:
        problems.append('no Date header')
    else:
        problems += date_problems(date, response.received, 'Date')
    length = response.header('content-length')
    if length is not None and framing(response) == 'content-length' and length.strip() != str(len(response.body)):
        problems.append(f'Content-Length {length} but {len(response.body)} body bytes')
    return problems


# ---------------------------------------------------------------------------------------------------------------
# Request scripts (the happy paths of course-spec.md). Each is a generator: `send` sends one request and returns
# the Response; the generator yields Steps.


def login_page_expectation():
    return {'status': 200, 'content-type': HTML,
            'body_contains': [r'<form[^>]*action="/login"', r'name="name"', r'<button|type="submit"']}


def script_hello(send, env):
    for path in ('/', '/anything?x=1'):
        yield Step(f'GET {path}', send(request('GET', path)),
                   {'status': 200, 'content-type': HTML, 'body': '<h1>Hello Node!</h1>Hello Server!',
                    'framing': 'chunked'},
                   compare=['status', 'content-type', 'connection', 'framing', 'body'])
    yield Step('POST / with a body', send(request('POST', '/', {'Content-Type': 'text/plain'}, 'ignored')),
               {'status': 200, 'content-type': HTML, 'body': '<h1>Hello Node!</h1>Hello Server!',
                'framing': 'chunked'},
               compare=['status', 'content-type', 'connection', 'framing', 'body'])


def script_hello_file(send, env):
    page = env.assets['server2.html']
    for path in ('/', '/server2.html', '/other'):
        yield Step(f'GET {path}', send(request('GET', path)), {'status': 200, 'content-type': HTML, 'body': page})


def script_hello_file_missing(send, env):
    yield Step('GET / (file missing)', send(request('GET', '/')),
               {'status': 500, 'content-type': PLAIN,
                'body': "ENOENT: no such file or directory, open './server2.html'"})


def users_check(expected_names, reference=None):
    """The users object: 13-digit millisecond ids near now, strictly increasing, names in insertion order;
    `reference` (a dict) must hold the same ids when given."""

    def check(response):
        try:
            users = json.loads(response.text())
        except ValueError as error:
            return [f'body is not JSON: {error}']
        if not isinstance(users, dict):
            return ['body is not a JSON object']
        problems = []
        if list(users.values()) != expected_names:
            problems.append(f'names {shorten(repr(list(users.values())), 160)}, expected '
                            f'{shorten(repr(expected_names), 160)}')
        ids = list(users.keys())
        for key in ids:
            if not re.fullmatch(r'[0-9]{13}', key):
                problems.append(f'id {key!r} is not 13 digits')
            elif abs(int(key) / 1000 - time.time()) > TIME_SLACK + 60:
                problems.append(f'id {key} is not near now')
        if ids != sorted(ids, key=int) or len(set(ids)) != len(ids):
            problems.append(f'ids {ids} are not strictly increasing')
        if reference is not None and ids != list(reference.keys()):
            problems.append(f'ids {ids}, expected {list(reference.keys())}')
        return problems

    return check


def parse_users(response):
    try:
        users = json.loads(response.text())
        return users if isinstance(users, dict) else {}
    except ValueError:
        return {}


def script_rest(send, env):
    # The seed sends static files without a Content-Type and its 404 without one: both are seed behaviour the spec
    # does not pin for NetCore, so they are notes.
    yield Step('GET /', send(request('GET', '/')),
               {'status': 200, 'content-type': HTML, 'body': env.assets['restFront.html']}, asset='restFront.html')
    yield Step('GET /about', send(request('GET', '/about')),
               {'status': 200, 'content-type': HTML, 'body': env.assets['about.html']}, asset='about.html')
    yield Step('GET /users (empty)', send(request('GET', '/users')),
               {'status': 200, 'content-type': JSON_TYPE, 'body': '{}'})
    for name in ('kim', 'lee'):
        yield Step(f'POST /user {name}', send(json_request('POST', '/user', {'name': name})),
                   {'status': 201, 'content-type': PLAIN, 'body': '등록 성공'})
    listed = send(request('GET', '/users'))
    users = parse_users(listed)
    yield Step('GET /users (kim, lee)', listed,
               {'status': 200, 'content-type': JSON_TYPE, 'body_check': users_check(['kim', 'lee'])})
    ids = list(users.keys()) + ['0000000000000', '0000000000000']
    first, second = ids[0], ids[1]
    changed = dict(users, **{first: 'park'})
    yield Step('PUT /user/:id park', send(json_request('PUT', f'/user/{first}', {'name': 'park'})),
               {'status': 200, 'content-type': PLAIN, 'body_check': users_check(['park', 'lee'], changed)})
    remaining = {first: 'park'}
    yield Step('DELETE /user/:id', send(request('DELETE', f'/user/{second}')),
               {'status': 200, 'content-type': PLAIN, 'body_check': users_check(['park'], remaining)})
    yield Step('GET /users (park)', send(request('GET', '/users')),
               {'status': 200, 'content-type': JSON_TYPE, 'body_check': users_check(['park'], remaining)})
    for name in ('restFront.css', 'restFront.js'):
        yield Step(f'GET /{name}', send(request('GET', f'/{name}')), {'status': 200, 'body': env.assets[name]},
                   soft=['content-type'], asset=name)
    yield Step('GET /no-such-file', send(request('GET', '/no-such-file')), {'status': 404, 'body': 'NOT FOUND'},
               soft=['content-type'])


def script_cookie(send, env):
    expect = {'status': 200, 'body': 'Hello Cookie', 'set-cookie': [('mycookie', 'test', [])]}
    yield Step('GET / without a cookie', send(request('GET', '/')), expect, soft=['content-type'])
    yield Step('GET / with mycookie', send(request('GET', '/', {'Cookie': 'mycookie=test'})), expect,
               soft=['content-type'])
    yield Step('GET /favicon.ico with mycookie', send(request('GET', '/favicon.ico', {'Cookie': 'mycookie=test'})),
               expect, soft=['content-type'])


COOKIE_LOG = ['/ undefined', '/ mycookie=test', '/favicon.ico mycookie=test']


def cookie_value(response, name):
    for value in response.all('set-cookie'):
        key, _, rest = value.partition('=')
        if key.strip() == name:
            return rest.split(';')[0]
    return ''


def login_step(send, name_query, cookie, value_pattern, side_values=None):
    redirect = send(request('GET', f'/login?name={name_query}'))
    expect = {'status': 302, 'location': '/',
              'set-cookie': [(cookie, value_pattern, ['Expires', 'HttpOnly', 'Path'])]}
    overrides = {side: {'set-cookie': [(cookie, pattern, ['Expires', 'HttpOnly', 'Path'])]}
                 for side, pattern in (side_values or {}).items()}
    # The seed ends the redirect with an empty res.end() (Node frames it as an empty chunked body, without a
    # Content-Type); the spec says nothing of a redirect's body, so a body or a Content-Type there is a note.
    step = Step(f'GET /login?name={name_query}', redirect, dict(expect, body=''), node=overrides.get('node'),
                netcore=overrides.get('netcore'), soft=['content-type', 'body'],
                compare=['status', 'location', 'set-cookie', 'connection', 'body'])
    return step, cookie_value(redirect, cookie)


def script_login(send, env):
    yield Step('GET / without a cookie: the login page', send(request('GET', '/')), login_page_expectation(),
               asset='cookie2.html')
    step, value = login_step(send, KOREAN_QUERY, 'name', re.escape(KOREAN_QUERY))
    yield step
    yield Step('GET / with the name cookie', send(request('GET', '/', {'Cookie': f'name={value}'})),
               {'status': 200, 'content-type': PLAIN, 'body': f'{KOREAN_NAME}님 안녕하세요'})
    step, value = login_step(send, 'kim', 'name', 'kim')
    yield step
    yield Step('GET / with two cookies', send(request('GET', '/', {'Cookie': f'other=1; name={value}'})),
               {'status': 200, 'content-type': PLAIN, 'body': 'kim님 안녕하세요'})


SESSION_IDS = {'node': r'[0-9]{13}', 'netcore': r'[0-9a-f]{32}'}


def script_session(send, env):
    yield Step('GET / without a cookie: the login page', send(request('GET', '/')), login_page_expectation(),
               asset='cookie2.html')
    step, first = login_step(send, KOREAN_QUERY, 'session', r'[0-9]{13}|[0-9a-f]{32}', SESSION_IDS)
    yield step
    yield Step('GET / with the session', send(request('GET', '/', {'Cookie': f'session={first}'})),
               {'status': 200, 'content-type': PLAIN, 'body': f'{KOREAN_NAME}님 안녕하세요'})
    step, second = login_step(send, 'kim', 'session', r'[0-9]{13}|[0-9a-f]{32}', SESSION_IDS)
    step.expect['body_check'] = lambda response: [] if second != first else ['the second login reused the session id']
    yield step
    yield Step('GET / with the first session', send(request('GET', '/', {'Cookie': f'session={first}'})),
               {'status': 200, 'content-type': PLAIN, 'body': f'{KOREAN_NAME}님 안녕하세요'})
    yield Step('GET / with the second session', send(request('GET', '/', {'Cookie': f'x=1; session={second}'})),
               {'status': 200, 'content-type': PLAIN, 'body': 'kim님 안녕하세요'})


SCRIPTS = {
    'hello': [('happy path', script_hello, True)],
    'hello-file': [('happy path', script_hello_file, True), ('file missing', script_hello_file_missing, False)],
    'rest': [('happy path', script_rest, True)],
    'cookie': [('happy path', script_cookie, True)],
    'login': [('happy path', script_login, True)],
    'session': [('happy path', script_session, True)],
}


# ---------------------------------------------------------------------------------------------------------------
# Running the happy paths


def run_script(server, client_class, script, env):
    client = client_class(server.port)
    last = [0.0]

    def send(req):
        wait_next_millisecond(last[0])
        response = client.send(req)
        last[0] = time.time()
        return response

    try:
        return list(script(send, env))
    finally:
        client.close()


def check_side(report, name, side, steps, env):
    for step in steps:
        expect = dict(step.expect, **step.side_expect[side])
        if step.asset in env.stand_ins and 'body' in expect and side == 'netcore':
            del expect['body']  # NetCore serves its own embedded page, the Node side a stand-in
        problems = expectation_problems(step.response, expect) + common_problems(step.response)
        label = f'{name}/{step.label} {side}'
        soft = [p for p in problems if any(p.startswith(field) for field in step.soft | {ORDER_NOTE})]
        hard = [p for p in problems if p not in soft]
        for problem in soft:
            report.note(label, problem)
        report.check(not hard, label, '; '.join(hard) if hard else step.response.summary())


def compare_sides(report, name, node_steps, netcore_steps, env):
    for node_step, netcore_step in zip(node_steps, netcore_steps):
        label = f'{name}/{node_step.label} node vs netcore'
        node, netcore = node_step.response, netcore_step.response
        if node.error or netcore.error:
            report.check(False, label, f'node: {node.summary()}; netcore: {netcore.summary()}')
            continue
        differences, notes = [], []
        for field in node_step.compare:
            if field == 'body' and node_step.asset in env.stand_ins:
                continue
            mine, theirs = observed(node, field), observed(netcore, field)
            if mine != theirs:
                text = f'{field}: node {shorten(repr(mine), 120)} vs netcore {shorten(repr(theirs), 120)}'
                (notes if field in node_step.soft else differences).append(text)
        # Framing is compared only where the seed's framing is visible (server1.js's write + end); elsewhere it is
        # Node's choice (writeHead + end(data) is chunked, end(data) alone has a Content-Length): a note.
        for field in (node_step.soft | {'framing', 'set-cookie-order'}):
            if field not in node_step.compare and observed(node, field) != observed(netcore, field):
                notes.append(f'{field}: node {observed(node, field)!r} vs netcore {observed(netcore, field)!r}')
        node_date, netcore_date = node.header('date'), netcore.header('date')
        if node_date and netcore_date and IMF_FIXDATE.match(node_date) and IMF_FIXDATE.match(netcore_date):
            gap = (email.utils.parsedate_to_datetime(node_date) - email.utils.parsedate_to_datetime(netcore_date))
            if abs(gap.total_seconds()) > TIME_SLACK:
                differences.append(f'Date headers {gap.total_seconds():+.0f} s apart')
        for text in notes:
            report.note(label, text)
        report.check(not differences, label, '; '.join(differences) if differences else 'same')


def run_happy(report, env, pair, clients):
    for title, script, with_files in SCRIPTS[pair.name]:
        for client_name in clients:
            name = f'{pair.name}/{client_name}/{title}'
            sides = {}
            servers = {}
            try:
                node_folder = env.folder(pair, with_files)
                servers['node'], why = env.start_node(pair, node_folder)
                if not report.check(servers['node'] is not None, f'{name} node start', why or 'ready'):
                    continue
                if not env.node_only:
                    netcore_folder = env.folder(pair, with_files)
                    servers['netcore'], why = env.start_netcore(pair, netcore_folder)
                    if not report.check(servers['netcore'] is not None, f'{name} netcore start',
                                        why or f'ready on port {servers["netcore"].port}'):
                        servers.pop('netcore')
                for side, server in servers.items():
                    sides[side] = run_script(server, CLIENTS[client_name], script, env)
                    check_side(report, name, side, sides[side], env)
                    if pair.name == 'cookie':
                        check_cookie_log(report, name, side, server)
                    report.check(server.alive(), f'{name} {side} stayed up', 'alive' if server.alive() else
                                 f'exit {server.process.poll()}: {shorten(server.stderr_text(), 200)}')
                if 'node' in sides and 'netcore' in sides:
                    compare_sides(report, name, sides['node'], sides['netcore'], env)
            finally:
                for server in servers.values():
                    if server is not None:
                        server.stop()


def check_cookie_log(report, name, side, server):
    """cookie.js logs `URL COOKIE` per request (`undefined` when there is none); NetCore's lines must be the same,
    in order (other lines may sit between them)."""

    def has_log(lines):
        wanted = iter(COOKIE_LOG)
        target = next(wanted)
        for line in lines:
            if line.strip() == target:
                target = next(wanted, None)
                if target is None:
                    return True
        return False

    ok = server.wait_for_lines(has_log)
    with server.changed:
        shown = [line for line in server.lines if '대기 중' not in line]
    report.check(ok, f'{name} {side} log', f'{shown}' if ok else f'got {shown}, expected {COOKIE_LOG} in order')


# ---------------------------------------------------------------------------------------------------------------
# Bad input: the seed crashes or misbehaves, NetCore answers a clear 4xx and stays up.


class BadCase:
    def __init__(self, pair, title, send, node_outcome, netcore_outcome, follow_up=None):
        self.pair = pair
        self.title = title
        self.send = send  # (port) -> Response
        self.node_outcome = node_outcome  # (report, name, response, server) -> None
        self.netcore_outcome = netcore_outcome  # an expectation dict
        self.follow_up = follow_up  # (request, expectation) proving NetCore still serves


def raw_request(method, target, headers=None, body=b''):
    lines = [f'{method} {target} HTTP/1.1', f'Host: {HOST}', 'Connection: close']
    for key, value in (headers or {}).items():
        lines.append(f'{key}: {value}')
    if body or method in ('POST', 'PUT'):
        lines.append(f'Content-Length: {len(body)}')
    return ('\r\n'.join(lines) + '\r\n\r\n').encode('utf-8') + body


def sender(method, target, headers=None, body=b''):
    return lambda port: raw_exchange(port, raw_request(method, target, headers, body), method)


def node_crashes(error_name):
    """The seed's handler throws outside any try: no answer, and the process exits with the error on stderr."""

    def outcome(report, name, response, server):
        report.check(response.error is not None, f'{name} node gives no answer',
                     f'({response.error})' if response.error else f'answered {response.summary()}')
        code = server.wait_exit()
        stderr = server.stderr_text()
        first = next((line for line in stderr.splitlines() if error_name in line), '')
        report.check(code is not None and code != 0 and error_name in stderr, f'{name} node process exits',
                     f'exit {code}, stderr: {first.strip()!r}' if code is not None else 'still running')

    return outcome


def node_answers(expect, what):
    def outcome(report, name, response, server):
        problems = expectation_problems(response, expect)
        report.check(not problems, f'{name} node {what}', '; '.join(problems) if problems else response.summary())
        report.check(server.alive(), f'{name} node stays up', 'alive' if server.alive() else 'exited')

    return outcome


def large_body_exchange(port):
    body = json.dumps({'name': 'a' * (1 << 20)}).encode('utf-8')
    head = raw_request('POST', '/user', {'Content-Type': 'application/json', 'Expect': '100-continue'})
    head = head.replace(b'Content-Length: 0', f'Content-Length: {len(body)}'.encode())
    return raw_exchange(port, head, 'POST', expect_continue_body=body)


PIPELINED_NAMES = [f'user{index:02d}' for index in range(30)]


def pipelined_posts(port):
    """Thirty POSTs in one write, so the seed handles several within one millisecond; then the users list."""
    batch = b''.join(
        raw_request('POST', '/user', {'Content-Type': 'application/json'}, json.dumps({'name': name}).encode())
        .replace(b'Connection: close\r\n', b'') for name in PIPELINED_NAMES)
    try:
        with socket.create_connection((HOST, port), timeout=REQUEST_TIMEOUT) as sock:
            sock.sendall(batch)
            reader = sock.makefile('rb')
            for _ in PIPELINED_NAMES:
                answer = read_response(sock, reader, 'POST')
                if answer.status != 201:
                    return answer
    except (OSError, http.client.HTTPException) as error:
        return Response(error=f'{type(error).__name__}: {error}')
    return raw_exchange(port, raw_request('GET', '/users'))


def node_collision(report, name, response, server):
    users = parse_users(response)
    lost = len(PIPELINED_NAMES) - len(users)
    if lost:
        report.note(f'{name} node', f'{lost} of {len(PIPELINED_NAMES)} users lost to shared Date.now() ids')
    else:
        report.note(f'{name} node', 'no Date.now() collision this time (every request fell in its own ms)')
    report.check(response.status == 200 and 0 < len(users) <= len(PIPELINED_NAMES), f'{name} node lists users',
                 f'{response.status}, {len(users)} users')


TRAVERSAL = '/' + '../' * 12 + 'etc/passwd'
ENCODED_TRAVERSAL = '/' + '%2e%2e/' * 12 + 'etc/passwd'
GUESSED_HEX = 'deadbeef' * 4
GUESSED_MILLIS = '1733131111111'

BAD_CASES = [
    BadCase('rest', 'POST /user with bad JSON',
            sender('POST', '/user', {'Content-Type': 'application/json'}, b'{"name":'),
            node_crashes('SyntaxError'), {'status': 400},
            (request('GET', '/users'), {'status': 200, 'body': '{}'})),
    BadCase('rest', 'PUT /user/:id with bad JSON',
            sender('PUT', '/user/1733131111111', {'Content-Type': 'application/json'}, b'not json'),
            node_crashes('SyntaxError'), {'status': 400},
            (request('GET', '/users'), {'status': 200, 'body': '{}'})),
    BadCase('rest', 'POST /user with a body over 1 MiB', large_body_exchange,
            node_answers({'status': 201}, 'accepts it (no size limit)'), {'status': 413},
            (request('GET', '/users'), {'status': 200, 'body': '{}'})),
    BadCase('rest', f'raw GET {TRAVERSAL}', sender('GET', TRAVERSAL),
            node_answers({'status': 200, 'body_contains': [r'root:.*:0:0:']}, 'leaks /etc/passwd'),
            {'status': (403, 404), 'body_lacks': [r'root:.*:0:0:']},
            (request('GET', '/users'), {'status': 200, 'body': '{}'})),
    BadCase('rest', f'raw GET {ENCODED_TRAVERSAL[:22]}…etc/passwd', sender('GET', ENCODED_TRAVERSAL),
            node_answers({'status': 404}, 'does not decode it'),
            {'status': (400, 403, 404), 'body_lacks': [r'root:.*:0:0:']},
            (request('GET', '/users'), {'status': 200})),
    BadCase('rest', 'GET /no/such/route', sender('GET', '/no/such/route'),
            node_answers({'status': 404, 'body': 'NOT FOUND'}, 'answers 404'), {'status': 404, 'body': 'NOT FOUND'},
            (request('GET', '/users'), {'status': 200})),
    BadCase('rest', 'PATCH /user (wrong method)', sender('PATCH', '/user', {}, b'{"name":"kim"}'),
            node_answers({'status': 404, 'body': 'NOT FOUND'}, 'answers 404'), {'status': 405, 'allow': True},
            (request('GET', '/users'), {'status': 200, 'body': '{}'})),
    BadCase('rest', '30 POSTs in one write (Date.now() ids)', pipelined_posts, node_collision,
            {'status': 200, 'body_check': users_check(PIPELINED_NAMES)}),
    # A bad escape is kept as sent (RFC 6265 says nothing of percent-encoding; the `cookie` package does the same):
    # the greeting shows the raw text, and the process lives.
    BadCase('login', f'Cookie: name={MALFORMED_ESCAPE}', sender('GET', '/', {'Cookie': f'name={MALFORMED_ESCAPE}'}),
            node_crashes('URIError'), {'status': 200, 'body': f'{MALFORMED_ESCAPE}님 안녕하세요'},
            (request('GET', '/'), login_page_expectation())),
    BadCase('login', 'GET /unknown/route without a cookie', sender('GET', '/unknown/route'),
            node_answers(login_page_expectation(), 'shows the login page'), login_page_expectation(),
            (request('GET', '/'), login_page_expectation())),
    BadCase('session', f'Cookie: session={MALFORMED_ESCAPE}',
            sender('GET', '/', {'Cookie': f'session={MALFORMED_ESCAPE}'}),
            node_crashes('URIError'), login_page_expectation(),
            (request('GET', '/'), login_page_expectation())),
    BadCase('session', 'a guessed 32-hex session id', sender('GET', '/', {'Cookie': f'session={GUESSED_HEX}'}),
            node_crashes('TypeError'), login_page_expectation(),
            (request('GET', '/'), login_page_expectation())),
    BadCase('session', 'a guessed Date.now() session id',
            sender('GET', '/', {'Cookie': f'session={GUESSED_MILLIS}'}),
            node_crashes('TypeError'), login_page_expectation(),
            (request('GET', '/'), login_page_expectation())),
]


def run_bad(report, env, pair):
    for case in (case for case in BAD_CASES if case.pair == pair.name):
        name = f'{pair.name}/bad/{case.title}'
        servers = []
        try:
            node, why = env.start_node(pair, env.folder(pair))
            servers.append(node)
            if report.check(node is not None, f'{name} node start', why or 'ready'):
                case.node_outcome(report, name, case.send(node.port), node)
            if env.node_only:
                continue
            netcore, why = env.start_netcore(pair, env.folder(pair))
            servers.append(netcore)
            if not report.check(netcore is not None, f'{name} netcore start', why or 'ready'):
                continue
            response = case.send(netcore.port)
            problems = expectation_problems(response, case.netcore_outcome)
            report.check(not problems, f'{name} netcore answers',
                         '; '.join(problems) + ('' if response.error else f' (got {response.summary()})')
                         if problems else response.summary())
            if case.follow_up:
                follow_request, follow_expect = case.follow_up
                after = PythonClient(netcore.port)
                answer = after.send(follow_request)
                after.close()
                problems = expectation_problems(answer, follow_expect)
                report.check(not problems, f'{name} netcore still serves '
                             f'{follow_request["method"]} {follow_request["path"]}',
                             '; '.join(problems) or answer.summary())
            report.check(netcore.alive(), f'{name} netcore stays up',
                         'alive' if netcore.alive() else f'exit {netcore.process.poll()}')
        finally:
            for server in servers:
                if server is not None:
                    server.stop()


# ---------------------------------------------------------------------------------------------------------------


def guarded(report, name, function, *args):
    """A harness error (or an answer it cannot handle) fails that part and the run goes on."""
    try:
        function(*args)
    except BrokenPipeError:
        raise  # our own output is gone (`| head`): stop, the finally blocks stop the servers
    except Exception as error:  # noqa: BLE001 - reported as a failed check, with where it happened
        where = traceback.extract_tb(error.__traceback__)[-1]
        report.check(False, name, f'harness error {type(error).__name__}: {error} (line {where.lineno})')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--bin', default='.build/debug', help='folder of the NetCore binaries (default .build/debug)')
    parser.add_argument('--only', help='pairs to run, comma-separated (hello, hello-file, rest, cookie, login, '
                                       'session, or a fixture or binary name)')
    parser.add_argument('--clients', default='curl,python,node', help='clients, comma-separated (curl,python,node)')
    parser.add_argument('--node-only', action='store_true', help='run the Node side alone (validates the harness)')
    parser.add_argument('--no-bad', action='store_true', help='skip the bad-input list')
    parser.add_argument('--assets', help='the front-end files folder (default: next to --bin, then this checkout)')
    parser.add_argument('--list', action='store_true', help='list the pairs and bad-input cases, and exit')
    args = parser.parse_args()

    if args.list:
        for pair in PAIRS:
            print(f'{pair.name}: node {pair.fixture} vs {pair.binary} {" ".join(pair.arguments)}'.rstrip())
            for case in BAD_CASES:
                if case.pair == pair.name:
                    print(f'    bad: {case.title}')
        return 0
    pairs = PAIRS
    if args.only:
        wanted = [name.strip() for name in args.only.split(',') if name.strip()]
        unknown = [name for name in wanted if not any(name in pair.aliases for pair in PAIRS)]
        if unknown:
            print(f'side_by_side.py: unknown pair {", ".join(unknown)} (see --list)', file=sys.stderr)
            return 2
        pairs = [pair for pair in PAIRS if any(name in pair.aliases for name in wanted)]
    clients = [name.strip() for name in args.clients.split(',') if name.strip()]
    if not clients or any(name not in CLIENTS for name in clients):
        print(f'side_by_side.py: clients are {", ".join(CLIENTS)}', file=sys.stderr)
        return 2
    for tool in ['node'] + (['curl'] if 'curl' in clients else []):
        if shutil.which(tool) is None:
            print(f'side_by_side.py: {tool} is not on PATH', file=sys.stderr)
            return 2

    env = Environment(args)
    report = Report()
    if env.stand_ins:
        report.note('assets', f'stand-ins for {", ".join(sorted(env.stand_ins))} (the real front-end files are not '
                              f'written yet); their bodies are not compared')
    try:
        for pair in pairs:
            guarded(report, f'{pair.name} happy paths', run_happy, report, env, pair, clients)
            if not args.no_bad:
                guarded(report, f'{pair.name} bad input', run_bad, report, env, pair)
    finally:
        for folder in env.folders:
            shutil.rmtree(folder, ignore_errors=True)
    print(f'{report.notes} notes')
    print(f'{report.passed} passed, {report.failed} failed')
    return 1 if report.failed else 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        sys.exit(1)
