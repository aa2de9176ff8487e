import NetCore
import NetCoreHTTP
import NetCoreTLS

/// Node's `https` module: `HTTPS.createServer(options) { req, res in … }`, `HTTPS.request(…)`, `HTTPS.get(…)`.
///
/// A server is an `HTTPServer` whose connections are `TLSSocket`s (`TLSServer` over its listener), and a request is
/// a `ClientRequest` whose connection is made by `TLS.connect` through an `Agent`; everything HTTP about them is
/// NetCoreHTTP's, unchanged.
public enum HTTPS {
    /// An HTTPS server calling `handler` for every request (Node's `https.createServer(options, listener)`).
    /// `options` are `TLS.createServer`'s (`key`, `cert`, `ca`, `requestCert`, `handshakeTimeout`, ...);
    /// `configuration` the HTTP server's limits and timeouts. Throws for options OpenSSL refuses (a bad PEM, a key
    /// that does not match the certificate). Call `listen(port:host:)` or `listen(path:)` to start it.
    public static func createServer(
        _ options: TLSServer.Options,
        configuration: HTTPServer.Configuration = HTTPServer.Configuration(),
        loop: EventLoop = .current,
        _ handler: ((IncomingMessage, ServerResponse) -> Void)? = nil
    ) throws(TLSError) -> HTTPSServer {
        try HTTPSServer(options, configuration: configuration, loop: loop, handler: handler)
    }

    /// The loop's shared HTTPS agent, used by requests that name none (Node's `https.globalAgent`, a separate pool
    /// from `http.globalAgent`): keep-alive on, unlimited sockets, free connections closed after 5 s idle.
    public static func globalAgent(for loop: EventLoop = .current) -> Agent {
        Agent.global(for: loop, module: "https")
    }

    /// Starts a request over TLS (Node's `https.request(options[, callback])`). `callback`, if given, is a
    /// `response` listener. Write the body with `write`, and call `end()`.
    ///
    /// The connection comes from the agent (default `globalAgent`), pooled by server and TLS options; a new one is
    /// made by `TLS.connect` with `servername` set from the `Host` field or `host` unless that is an IP address
    /// (Node's rule), so SNI and the certificate check use the name the request is for. A certificate that does not
    /// verify (with `rejectUnauthorized`, the default) fails the request with Node's code
    /// (`DEPTH_ZERO_SELF_SIGNED_CERT`, `CERT_HAS_EXPIRED`, `ERR_TLS_CERT_ALTNAME_INVALID`, ...), as do TLS options
    /// OpenSSL refuses (`ERR_OSSL_PEM_NO_START_LINE`, or `ENOENT` for a `ca` file that is missing): an `error` event,
    /// like every other failure of a request.
    @discardableResult
    public static func request(
        _ options: RequestOptions,
        _ callback: ((IncomingMessage) -> Void)? = nil
    ) -> ClientRequest {
        ClientRequest(options.clientRequestOptions, callback)
    }

    /// Starts a request for `url` (`https://host[:port]/path?query`), with `options`' other settings (Node's
    /// `https.request(url[, options][, callback])`). Throws `ERR_INVALID_URL`, or `ERR_INVALID_PROTOCOL` for a
    /// scheme other than `https:`.
    @discardableResult
    public static func request(
        _ url: String,
        _ options: RequestOptions = RequestOptions(),
        _ callback: ((IncomingMessage) -> Void)? = nil
    ) throws(SocketError) -> ClientRequest {
        request(try options.merging(url: url), callback)
    }

    /// A `GET` request that is ended at once (Node's `https.get`).
    @discardableResult
    public static func get(
        _ options: RequestOptions,
        _ callback: ((IncomingMessage) -> Void)? = nil
    ) -> ClientRequest {
        var options = options
        options.method = "GET"
        let request = request(options, callback)
        request.end()
        return request
    }

    /// A `GET` request for `url`, ended at once (Node's `https.get(url[, options][, callback])`).
    @discardableResult
    public static func get(
        _ url: String,
        _ options: RequestOptions = RequestOptions(),
        _ callback: ((IncomingMessage) -> Void)? = nil
    ) throws(SocketError) -> ClientRequest {
        get(try options.merging(url: url), callback)
    }
}
