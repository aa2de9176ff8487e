// unix-http-seed.js with one change: the lines "0\n".."99\n" are joined and written with ONE res.write call
// instead of 100, so Node sends them as one chunk of the chunked body. Everything else is the same: the seed's
// example 3-4 server (shared/seeds/002) with the socket path from the command line, files by base name from
// ROOT, 404 instead of a crash on a missing file, and no per-request logging. This separates the cost of the
// seed's 100 small writes from the cost of the server itself.
//
// Usage: node unix-http-onechunk.js [SOCKET_PATH] [ROOT] [CERT.pem KEY.pem]
// With a certificate and key it is the same server on https.createServer (the Node peer of unix-http --tls).
'use strict';
var http = require('http');
var https = require('https');
var fs = require('fs');
var path = require('path');
var url = require('url');
var querystring = require('querystring');

var socketPath = process.argv[2] || '/tmp/node-server-sock';
var root = path.resolve(process.argv[3] || '.');

var lines = '';
for (var i = 0; i < 100; i++) {
    lines += i + '\n';
}

try { fs.unlinkSync(socketPath); } catch (e) { /* no stale socket */ }

var handler = function (req, res) {
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
    res.write(lines);
    res.write(data);
    res.end();
};
var server = process.argv[5]
    ? https.createServer({ cert: fs.readFileSync(process.argv[4]), key: fs.readFileSync(process.argv[5]) }, handler)
    : http.createServer(handler);

server.on('error', function (err) {
    console.error('unix-http-onechunk.js: ' + err.message);
    process.exit(3);
});

server.listen(socketPath, function () {
    console.log('listening on ' + socketPath);
});
