// The seed's server1.js (seed 000), unchanged except that the port comes from the command line
// (node server1.js PORT; 8080 when none is given) and it listens on 127.0.0.1 like hello-server in run.sh.
const http = require('http');

const port = Number(process.argv[2] || 8080);

http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.write('<h1>Hello Node!</h1>');
    res.end('Hello Server!');
})
    .listen(port, '127.0.0.1', () => { // 서버 연결
        console.log(`${port}번 포트에서 서버 대기 중입니다!`);
    });
