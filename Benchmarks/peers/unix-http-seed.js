// The O'Reilly example 3-4 HTTP server on a Unix socket (shared/seeds/002), as the Node peer of NetCore's
// unix-http. Kept as the seed has it: GET /?file=F answers 200 text/plain, writes the lines "0\n".."99\n" with
// 100 separate res.write calls (so Node sends them as chunks of the chunked body), then the file read with
// readFileSync(file, 'utf8'), then ends. Changes, each needed to benchmark it:
//   - the socket path comes from the command line (the seed listens on '/tmp/nmode-server-sock', a typo for the
//     '/tmp/node-server-sock' its client uses; that is the default here), and a stale socket file is removed;
//   - files are served from ROOT (default: the current directory), by base name only;
//   - a missing or unreadable file gives 404 instead of crashing the process: the file is read before the head
//     is written (still synchronously, as in the seed), so the order of what the client receives is unchanged;
//   - no per-request console.log (the seed logs the query string).
// Note: readFileSync(..., 'utf8') cannot hold a file larger than V8's string limit (~512 MiB), so the 1 GiB
// streaming point is not run against the Node peers (they answer 500).
//
// Usage: node unix-http-seed.js [SOCKET_PATH] [ROOT]
'use strict';
var http = require('http');
var fs = require('fs');
var path = require('path');
var url = require('url');
var querystring = require('querystring');

var socketPath = process.argv[2] || '/tmp/node-server-sock';
var root = path.resolve(process.argv[3] || '.');

try { fs.unlinkSync(socketPath); } catch (e) { /* no stale socket */ }

var server = http.createServer(function (req, res) {
    var query = url.parse(req.url).query;
    var file = querystring.parse(query).file;
    var data;
    try {
        if (typeof file !== 'string' || file === '') throw new Error('no file');
        data = fs.readFileSync(path.join(root, path.basename(file)), 'utf8');
    } catch (e) {
        var status = e.code === 'ENOENT' || e.message === 'no file' ? 404 : 500;
        res.writeHead(status, { 'Content-Type': 'text/plain' });
        res.end(status === 404 ? 'not found\n' : 'cannot read file\n');
        return;
    }

    res.writeHead(200, { 'Content-Type': 'text/plain' });
    for (var i = 0; i < 100; i++) {
        res.write(i + '\n');
    }
    res.write(data);
    res.end();
});

server.on('error', function (err) {
    console.error('unix-http-seed.js: ' + err.message);
    process.exit(3);
});

server.listen(socketPath, function () {
    console.log('listening on ' + socketPath);
});
