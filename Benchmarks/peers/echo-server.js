// The O'Reilly example 3-2 TCP echo server (shared/seeds/002), as the Node peer of NetCore's echo-server:
// the seed's server with the error handler its tip adds, no per-connection or per-message logging (so the
// benchmark measures the server, not the console), and the port from the command line.
//
// Usage: node echo-server.js [PORT]        (default 8124; like the seed, listens on all interfaces)
'use strict';
var net = require('net');

var port = Number(process.argv[2] || 8124);

var server = net.createServer(function (conn) {
    conn.on('data', function (data) {
        conn.write('Repeating: ' + data);
    });
    // Without this a client reset (ECONNRESET) would crash the server (the seed's tip).
    conn.on('error', function () {});
});

server.on('error', function (err) {
    console.error('echo-server.js: ' + err.message);
    process.exit(3);
});

server.listen(port, function () {
    console.log('listening on port ' + port);
});
