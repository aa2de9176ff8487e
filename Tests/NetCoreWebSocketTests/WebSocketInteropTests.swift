import Foundation
import Testing
@testable import NetCore
import NetCoreHTTP
@testable import NetCoreWebSocket

/// Real peers: Debian's `node-ws` (8.11) and python `websockets` (15), each as client of our server and as server
/// for our client, with permessage-deflate on (both peers offer or accept it by default).
@Suite(.timeLimit(.minutes(1))) struct WebSocketInteropTests {
    static let nodeClient = """
        const WebSocket = require('ws');
        const ws = new WebSocket(process.argv[1], ['chat']);
        const got = [];
        ws.on('open', () => {
          ws.send('hello κόσμε');
          ws.send(Buffer.from([0, 1, 2, 255]));
          ws.send('z'.repeat(5000));
          ws.ping('p');
        });
        const check = () => { if (got.length === 4) ws.close(4001, 'bye'); };
        ws.on('pong', (data) => { got.push('pong:' + data); check(); });
        ws.on('message', (data, isBinary) => {
          got.push(isBinary ? 'binary:' + [...data].join(',') : 'text:' + (data.length > 100 ? data.length : data));
          check();
        });
        ws.on('close', (code, reason) => {
          console.log(JSON.stringify({ got, code, reason: reason.toString(), protocol: ws.protocol, extensions: ws.extensions }));
        });
        ws.on('error', (e) => { console.log(JSON.stringify({ error: e.message })); });
        """

    struct NodeResult: Decodable {
        var got: [String]?
        var code: Int?
        var reason: String?
        var `protocol`: String?
        var extensions: String?
        var error: String?
    }

    static func echoServer(loop: EventLoop, deflate: Bool, onClose: @escaping (UInt16, String) -> Void) -> HTTPServer {
        let http = HTTP.createServer(loop: loop)
        var options = WebSocketServer.Options(path: "/echo")
        if deflate { options.connection.perMessageDeflate = PerMessageDeflateOptions() }
        let wss = WebSocketServer(server: http, options: options)
        wss.on(.connection) { ws, _ in
            ws.on(.message) { ws.send($0) }
            ws.on(.close) { code, reason in onClose(code, reason) }
        }
        return http
    }

    @Test(.enabled(if: hasNodeWS, "needs Debian's node-ws (scripts/install-test-deps.sh)"))
    func nodeWSClient_talksToOurServer() {
        var output = ""
        var serverClose: (UInt16, String)?
        runWSLoop(seconds: 30) { loop in
            let http = Self.echoServer(loop: loop, deflate: true) { serverClose = ($0, $1) }
            http.listen(port: 0, host: "127.0.0.1") {
                runProcess("node", ["-e", Self.nodeClient, "ws://127.0.0.1:\(http.address()!.port)/echo"],
                           environment: nodeEnvironment, loop: loop) { _, out, err in
                    output = out + err
                    http.close()
                }
            }
        }
        let result = try? JSONDecoder().decode(NodeResult.self, from: Data(output.utf8))
        #expect(result?.got == ["text:hello κόσμε", "binary:0,1,2,255", "text:5000", "pong:p"], "output: \(output)")
        #expect(result?.code == 4001 && result?.reason == "bye")
        #expect(result?.protocol == "chat")
        #expect(result?.extensions?.hasPrefix("permessage-deflate") == true)
        #expect(serverClose! == (4001, "bye"))
    }

    static let nodeServer = """
        const { WebSocketServer } = require('ws');
        const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: { threshold: 0 },
                                          handleProtocols: (p) => p.has('b') ? 'b' : false });
        wss.on('connection', (ws) => {
          ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
          ws.on('close', (code, reason) => { process.stderr.write('closed ' + code + ' ' + reason + '\\n'); process.exit(0); });
        });
        wss.on('listening', () => console.log(wss.address().port));
        """

    /// Our client against a peer server listening on the port it prints: sends text, binary and a large text with
    /// deflate offered, expects the echoes, then closes.
    static func clientExchange(url: String, loop: EventLoop, protocols: [String] = [], done: @escaping ([WebSocket.Message], String, String, UInt16) -> Void) {
        var options = WebSocket.Options()
        options.perMessageDeflate = PerMessageDeflateOptions()
        let client = WebSocket(url: url, protocols: protocols, options: options, loop: loop)
        var got: [WebSocket.Message] = []
        client.on(.open) {
            client.send("hello κόσμε")
            client.send(Buffer([9, 8, 7]))
            client.send(String(repeating: "w", count: 100_000))
        }
        client.on(.message) { message in
            got.append(message)
            if got.count == 3 { client.close(code: 1000, reason: "thanks") }
        }
        client.on(.error) { error in Issue.record("client error: \(error)") }
        client.on(.close) { code, _ in done(got, client.protocol, client.extensions, code) }
    }

    static let expectedEchoes: [WebSocket.Message] = [
        .text("hello κόσμε"), .binary(Buffer([9, 8, 7])), .text(String(repeating: "w", count: 100_000)),
    ]

    @Test(.enabled(if: hasNodeWS, "needs Debian's node-ws (scripts/install-test-deps.sh)"))
    func ourClient_talksToNodeWSServer() {
        var result: ([WebSocket.Message], String, String, UInt16)?
        var peer: Process?
        runWSLoop(seconds: 30) { loop in
            peer = startPeer("node", ["-e", Self.nodeServer], environment: nodeEnvironment, loop: loop) { port in
                Self.clientExchange(url: "ws://127.0.0.1:\(port)/", loop: loop, protocols: ["a", "b"]) { result = ($0, $1, $2, $3) }
            }
        }
        peer?.waitUntilExit()
        #expect(result?.0 == Self.expectedEchoes)
        #expect(result?.1 == "b")
        #expect(result?.2.hasPrefix("permessage-deflate") == true)
        #expect(result?.3 == 1000)
    }

    static let pythonClient = """
        import sys, json
        from websockets.sync.client import connect
        got = []
        with connect(sys.argv[1], subprotocols=["chat"]) as ws:
            ws.send("hello κόσμε"); got.append(ws.recv())
            ws.send(bytes([0, 1, 2, 255])); got.append(list(ws.recv()))
            ws.send("q" * 5000); got.append(len(ws.recv()))
            ext = [e.name for e in ws.protocol.extensions]
            ws.close(4002, "py")
        print(json.dumps({"got": got, "ext": ext, "subprotocol": ws.subprotocol}))
        """

    struct PythonResult: Decodable {
        enum Item: Decodable, Equatable {
            case text(String), bytes([Int]), length(Int)
            init(from decoder: Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let text = try? container.decode(String.self) { self = .text(text) }
                else if let bytes = try? container.decode([Int].self) { self = .bytes(bytes) }
                else { self = .length(try container.decode(Int.self)) }
            }
        }
        var got: [Item]
        var ext: [String]
        var subprotocol: String?
    }

    @Test(.enabled(if: hasPythonWebsockets, "needs python websockets (scripts/install-test-deps.sh)"))
    func pythonWebsocketsClient_talksToOurServer() {
        var output = ""
        var serverClose: (UInt16, String)?
        runWSLoop(seconds: 30) { loop in
            let http = Self.echoServer(loop: loop, deflate: true) { serverClose = ($0, $1) }
            http.listen(port: 0, host: "127.0.0.1") {
                runProcess("python3", ["-c", Self.pythonClient, "ws://127.0.0.1:\(http.address()!.port)/echo"], loop: loop) { _, out, err in
                    output = out + err
                    http.close()
                }
            }
        }
        let result = try? JSONDecoder().decode(PythonResult.self, from: Data(output.utf8))
        #expect(result?.got == [.text("hello κόσμε"), .bytes([0, 1, 2, 255]), .length(5000)], "\(output)")
        #expect(result?.ext == ["permessage-deflate"])
        #expect(result?.subprotocol == "chat")
        #expect(serverClose! == (4002, "py"))
    }

    static let pythonServer = """
        import asyncio, sys
        from websockets.asyncio.server import serve
        async def echo(ws):
            async for message in ws:
                await ws.send(message)
            sys.exit(0)
        async def main():
            async with serve(echo, "127.0.0.1", 0, subprotocols=["b"]) as server:
                print(server.sockets[0].getsockname()[1], flush=True)
                await asyncio.sleep(30)
        try:
            asyncio.run(main())
        except SystemExit:
            pass
        """

    @Test(.enabled(if: hasPythonWebsockets, "needs python websockets (scripts/install-test-deps.sh)"))
    func ourClient_talksToPythonWebsocketsServer() {
        var result: ([WebSocket.Message], String, String, UInt16)?
        var peer: Process?
        runWSLoop(seconds: 30) { loop in
            peer = startPeer("python3", ["-c", Self.pythonServer], loop: loop) { port in
                Self.clientExchange(url: "ws://127.0.0.1:\(port)/", loop: loop, protocols: ["a", "b"]) { result = ($0, $1, $2, $3) }
            }
        }
        peer?.terminate()
        peer?.waitUntilExit()
        #expect(result?.0 == Self.expectedEchoes)
        #expect(result?.1 == "b")
        #expect(result?.2.hasPrefix("permessage-deflate") == true)
        #expect(result?.3 == 1000)
    }
}
