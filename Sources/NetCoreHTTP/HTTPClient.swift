import NetCore

/// Node's `http.request` and `http.get`, on NetCore. The request machinery is in `Client/`: `ClientRequest` (the
/// writable request), `Agent` (connection pooling), and the internal `ClientConnection`.
extension HTTP {
    /// Starts a request (Node's `http.request(options[, callback])`). `callback`, if given, is a `response`
    /// listener. Write the body with `write`, and call `end()`: nothing is complete before that.
    @discardableResult
    public static func request(
        _ options: ClientRequest.Options,
        _ callback: ((IncomingMessage) -> Void)? = nil
    ) -> ClientRequest {
        ClientRequest(options, callback)
    }

    /// Starts a request for `url` (`http://host[:port]/path?query`), with `options`' other settings (Node's
    /// `http.request(url[, options][, callback])`). Throws `ERR_INVALID_URL` or `ERR_INVALID_PROTOCOL`.
    @discardableResult
    public static func request(
        _ url: String,
        _ options: ClientRequest.Options = ClientRequest.Options(),
        _ callback: ((IncomingMessage) -> Void)? = nil
    ) throws(SocketError) -> ClientRequest {
        ClientRequest(try merged(url, options), callback)
    }

    /// A `GET` request that is ended at once (Node's `http.get`).
    @discardableResult
    public static func get(
        _ options: ClientRequest.Options,
        _ callback: ((IncomingMessage) -> Void)? = nil
    ) -> ClientRequest {
        var options = options
        options.method = "GET"
        let request = ClientRequest(options, callback)
        request.end()
        return request
    }

    /// A `GET` request for `url`, ended at once (Node's `http.get(url[, options][, callback])`).
    @discardableResult
    public static func get(
        _ url: String,
        _ options: ClientRequest.Options = ClientRequest.Options(),
        _ callback: ((IncomingMessage) -> Void)? = nil
    ) throws(SocketError) -> ClientRequest {
        get(try merged(url, options), callback)
    }

    private static func merged(_ url: String, _ options: ClientRequest.Options) throws(SocketError)
        -> ClientRequest.Options
    {
        var merged = options
        let parsed = try ClientRequest.Options(url: url)
        merged.host = parsed.host
        merged.port = parsed.port
        merged.path = parsed.path
        return merged
    }
}
