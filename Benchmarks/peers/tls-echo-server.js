// The seed's echo server (peers/echo-server.js) on Node's tls.createServer, as the Node peer of
// `echo-server --tls`: the same handler, the certificate and key from files.
//
// Usage: node tls-echo-server.js PORT CERT.pem KEY.pem
'use strict';
var tls = require('tls');
var fs = require('fs');

var port = Number(process.argv[2] || 8124);
var options = { cert: fs.readFileSync(process.argv[3]), key: fs.readFileSync(process.argv[4]) };

var server = tls.createServer(options, function (conn) {
    conn.on('data', function (data) {
        conn.write('Repeating: ' + data);
    });
    conn.on('error', function () {});
});

// A failed handshake must not crash the peer mid-benchmark.
server.on('tlsClientError', function () {});
server.on('error', function (err) {
    console.error('tls-echo-server.js: ' + err.message);
    process.exit(3);
});

server.listen(port, '127.0.0.1', function () {
    console.log('listening on port ' + port);
});
