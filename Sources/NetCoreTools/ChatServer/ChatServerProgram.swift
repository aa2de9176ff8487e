@preconcurrency import Glibc
import NetCore
import NetCoreHTTP
import NetCoreWebSocket

/// `chat-server`: for now the raw WebSocket endpoints of issue 12 — `/ws` (every text message is broadcast to every
/// `/ws` client) and `/echo` (every message is echoed, for Autobahn|Testsuite) — and a placeholder page at `/` until
/// the Socket.IO chat lands.
public enum ChatServerProgram {
    /// The seed's chat listens on 3000.
    public static let defaultPort = 3000

    /// A broadcast receiver whose unsent output passes this is dropped (1008): one slow client must not make the
    /// server hold every message for it.
    public static let maxBufferedPerClient = 1 << 20

    /// The `--help` text.
    public static let usage = WebServer.usage(
        """
        usage: chat-server [--port N] [--host ADDR | --unix PATH] [--quiet]

        The course's chat (seed 004), in progress: GET / is a placeholder page (the Socket.IO chat is coming);
        ws://HOST:PORT/ws broadcasts every text message to every client connected there; ws://HOST:PORT/echo echoes
        every message (text or binary), which is what Autobahn|Testsuite's fuzzingclient drives
        (scripts/autobahn.sh). permessage-deflate is offered on both endpoints.
        """,
        defaultPort: defaultPort,
        extraOptions: []
    )

    /// Runs the program; returns the exit code.
    public static func main(_ arguments: [String]) -> Int32 {
        WebServer.main(arguments, name: "chat-server", defaultPort: defaultPort, usage: usage) { _, settings in
            { loop in makeServer(loop: loop, settings: settings) }
        }
    }

    /// The HTTP server with the page and both WebSocket endpoints.
    public static func makeServer(loop: EventLoop, settings: WebServerSettings) -> HTTPServer {
        let http = HTTPServer(loop: loop, configuration: settings.configuration) { request, response in
            let path = request.url.prefix { $0 != "?" }
            guard path == "/" || path == "/index.html" else {
                response.statusCode = 404
                response.setHeader("Content-Type", "text/plain; charset=utf-8")
                response.end("Not Found\n")
                return
            }
            response.setHeader("Content-Type", "text/html; charset=utf-8")
            response.end(page)
        }
        var options = WebSocketServer.Options()
        options.connection.perMessageDeflate = PerMessageDeflateOptions()
        options.path = "/ws"
        let chat = WebSocketServer(loop: loop, options: options)
        options.path = "/echo"
        let echo = WebSocketServer(loop: loop, options: options)
        // Two endpoints on one HTTP server: `ws`'s noServer pattern, routing upgrades by path.
        http.on(.upgrade) { request, socket, head in
            if chat.shouldHandle(request) {
                chat.handleUpgrade(request, socket: socket, head: head) { ws, _ in joinChat(ws, chat, quiet: settings.quiet) }
            } else if echo.shouldHandle(request) {
                echo.handleUpgrade(request, socket: socket, head: head) { ws, _ in serveEcho(ws) }
            } else {
                WebSocketServer.refuse(socket, WebSocketHandshake.Refusal(status: 404, message: "no WebSocket endpoint here"))
            }
        }
        // Open WebSockets are not the HTTP server's to close: on SIGINT/SIGTERM say goodbye (1001) so the loop can
        // end, as the HTTP side closes its own connections.
        let goingAway = {
            for client in chat.clients { client.close(code: WebSocketCloseCode.goingAway, reason: "server shutting down") }
            for client in echo.clients { client.close(code: WebSocketCloseCode.goingAway, reason: "server shutting down") }
        }
        loop.onSignal(SIGINT, goingAway)
        loop.onSignal(SIGTERM, goingAway)
        return http
    }

    static func joinChat(_ ws: WebSocket, _ chat: WebSocketServer, quiet: Bool) {
        if !quiet { Console.line("새로운 클라이언트가 접속했습니다. (/ws, \(chat.clients.count)명)") }
        ws.on(.message) { message in
            guard case .text(let text) = message else { return }
            for client in chat.clients where client.readyState == .open {
                if !client.send(text) && client.bufferedAmount > maxBufferedPerClient {
                    client.close(code: WebSocketCloseCode.policyViolation, reason: "too slow")
                }
            }
        }
        ws.on(.close) { _, _ in
            if !quiet { Console.line("클라이언트 접속이 해제되었습니다. (/ws)") }
        }
    }

    /// Echoes every message; reading stops while the echoes are backed up (a peer that sends but does not read).
    static func serveEcho(_ ws: WebSocket) {
        ws.on(.message) { message in
            if !ws.send(message) && !ws.isPaused {
                ws.pause()
                ws.once(.drain) { ws.resume() }
            }
        }
    }

    static let page = """
        <!DOCTYPE html>
        <html lang="ko">
        <head><meta charset="utf-8"><title>chat-server</title></head>
        <body>
        <h1>chat-server</h1>
        <p>The Socket.IO chat of seed 004 is coming. Meanwhile the raw WebSocket endpoints work:</p>
        <ul>
        <li><code>/ws</code>: every text message is broadcast to every client connected there.</li>
        <li><code>/echo</code>: every message is echoed.</li>
        </ul>
        <form id="f"><input id="m" autocomplete="off" placeholder="message"><button>Send</button></form>
        <ul id="messages"></ul>
        <script>
        const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
        const list = document.getElementById('messages');
        ws.onmessage = (event) => { const li = document.createElement('li'); li.textContent = event.data; list.appendChild(li); };
        document.getElementById('f').onsubmit = (event) => {
          event.preventDefault();
          const input = document.getElementById('m');
          if (input.value) { ws.send(input.value); input.value = ''; }
        };
        </script>
        </body>
        </html>

        """
}
