import NetCore

/// How a request's connection is made when it is not plain TCP or a Unix socket: NetCoreHTTPS makes TLS
/// connections through this, so NetCoreHTTP needs no TLS of its own (and a plain request pays one nil check when a
/// connection is made, nothing per byte).
///
/// Node's `https.Agent` overrides `createConnection` and `getName`; this is the same pair, carried by the request
/// so that any `Agent` can pool connections of both kinds without mixing them.
package struct ClientConnector {
    /// Node's `req.protocol` for requests made this way (`"https:"`).
    package var scheme: String
    /// The port a `Host` field leaves out (443 for https).
    package var defaultPort: Int
    /// Appended to the agent's pool key (Node's `https.Agent.getName` adds the TLS options), so a connection is
    /// reused only by requests that would have made the same one.
    package var keySuffix: String
    /// Makes a socket connecting to the request's server: TCP `host`/`port`, or `socketPath` when given, on
    /// `agent`'s loop; `key` is the pool key (for `agent`'s session cache).
    package var connect: (_ agent: Agent, _ key: String, _ host: String, _ port: Int, _ socketPath: String?) -> Socket

    /// A connector; see the properties.
    package init(
        scheme: String,
        defaultPort: Int,
        keySuffix: String,
        connect: @escaping (_ agent: Agent, _ key: String, _ host: String, _ port: Int, _ socketPath: String?) -> Socket
    ) {
        self.scheme = scheme
        self.defaultPort = defaultPort
        self.keySuffix = keySuffix
        self.connect = connect
    }
}
