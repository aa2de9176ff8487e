// The side-by-side harness's Node client: Node's own http.request, so the servers are also checked against the
// client the course uses. Reads one JSON object on stdin:
//   {"host": "127.0.0.1", "port": 8080, "requests": [{"method": "GET", "path": "/", "headers": {...}, "body": "..."}]}
// sends the requests one after another (on one keep-alive agent, as a browser would reuse its connection) and prints
// one JSON array on stdout, one entry per request:
//   {"status": 200, "httpVersion": "1.1", "headers": [[name, value], ...], "bodyBase64": "..."}
// or {"error": "ECONNRESET", "message": "..."} when the request failed (the rest are then still attempted).
// Every request is bounded by a 5 s timeout. Exit status 0 unless the input itself is unusable (2).
const http = require('http');

const TIMEOUT_MS = 5000;

function readStdin() {
    return new Promise((resolve, reject) => {
        const chunks = [];
        process.stdin.on('data', (chunk) => chunks.push(chunk));
        process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        process.stdin.on('error', reject);
    });
}

function send(agent, host, port, request) {
    return new Promise((resolve) => {
        let settled = false;
        const finish = (value) => {
            if (!settled) {
                settled = true;
                resolve(value);
            }
        };
        let req;
        try {
            req = http.request({
                host,
                port,
                agent,
                method: request.method || 'GET',
                path: request.path || '/',
                headers: request.headers || {},
            }, (res) => {
                const chunks = [];
                res.on('data', (chunk) => chunks.push(chunk));
                res.on('end', () => finish({
                    status: res.statusCode,
                    httpVersion: res.httpVersion,
                    headers: pairs(res.rawHeaders),
                    bodyBase64: Buffer.concat(chunks).toString('base64'),
                }));
                res.on('error', (err) => finish({ error: err.code || 'ERROR', message: err.message }));
                res.on('aborted', () => finish({ error: 'ECONNRESET', message: 'response aborted' }));
            });
        } catch (err) {
            finish({ error: err.code || 'ERROR', message: err.message });
            return;
        }
        req.setTimeout(TIMEOUT_MS, () => {
            req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' }));
        });
        req.on('error', (err) => finish({ error: err.code || 'ERROR', message: err.message }));
        if (request.body !== undefined && request.body !== null) {
            req.end(Buffer.from(request.body, 'utf8'));
        } else {
            req.end();
        }
    });
}

function pairs(rawHeaders) {
    const result = [];
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
        result.push([rawHeaders[i], rawHeaders[i + 1]]);
    }
    return result;
}

async function main() {
    let input;
    try {
        input = JSON.parse(await readStdin());
    } catch (err) {
        console.error(`node_client.js: the input is not JSON: ${err.message}`);
        process.exit(2);
    }
    if (!input || !Array.isArray(input.requests) || !Number.isInteger(input.port)) {
        console.error('node_client.js: expected {"host", "port", "requests": [...]}');
        process.exit(2);
    }
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const responses = [];
    for (const request of input.requests) {
        responses.push(await send(agent, input.host || '127.0.0.1', input.port, request));
    }
    agent.destroy();
    process.stdout.write(JSON.stringify(responses) + '\n');
}

main();
