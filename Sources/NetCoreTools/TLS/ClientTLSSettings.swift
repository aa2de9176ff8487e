import NetCore
import NetCoreTLS

/// `--tls [--ca FILE] [--servername NAME] [--insecure] [--keylog FILE]` on the client programs (echo-client,
/// `unix-http get`).
public struct ClientTLSSettings: Sendable {
    /// The CAs to trust (PEM file); nil: the system's.
    public var caFile: String?
    /// The name sent with SNI and checked against the certificate; nil: the host, unless it is an IP address.
    public var servername: String?
    /// Do not reject a certificate that does not verify (Node's `rejectUnauthorized: false`).
    public var insecure: Bool
    /// Where to append NSS key log lines.
    public var keylogFile: String?

    /// The options, in `--help` order.
    public static let options: [Arguments.Option] = [
        .init("tls", help: "connect with TLS"),
        .init(
            "ca",
            .value(placeholder: "FILE"),
            help: "with --tls: trust the CA certificates in FILE (PEM; e.g. a server's --write-cert file)"
        ),
        .init(
            "servername",
            .value(placeholder: "NAME"),
            help: "with --tls: the name sent with SNI and checked in the certificate (default: the host)"
        ),
        .init("insecure", help: "with --tls: go on when the server's certificate does not verify"),
        .init(
            "keylog",
            .value(placeholder: "FILE"),
            help: "with --tls: append the TLS secrets to FILE (NSS key log; lets Wireshark decrypt a capture)"
        ),
    ]

    /// The settings in `parsed`; nil without `--tls`. The TLS options without `--tls`, or an empty value, are usage
    /// errors.
    public static func parse(_ parsed: Arguments) throws(Arguments.UsageError) -> ClientTLSSettings? {
        let valued = ["ca", "servername", "keylog"]
        for name in valued where parsed.values[name]?.isEmpty == true {
            throw Arguments.UsageError(description: "--\(name) needs a non-empty value")
        }
        guard parsed.has("tls") else {
            if let given = valued.first(where: { parsed.values[$0] != nil })
                ?? (parsed.has("insecure") ? "insecure" : nil)
            {
                throw Arguments.UsageError(description: "--\(given) needs --tls")
            }
            return nil
        }
        return ClientTLSSettings(
            caFile: parsed.values["ca"],
            servername: parsed.values["servername"],
            insecure: parsed.has("insecure"),
            keylogFile: parsed.values["keylog"]
        )
    }

    /// The name to present and check for `host`: `servername`, else `host` unless it is an IP address (Node's
    /// https rule; a certificate for an address is checked against its IP entries without SNI).
    public func effectiveServername(host: String) -> String? {
        if let servername { return servername }
        return SocketAddress(ip: host, port: 0) == nil ? host : nil
    }

    /// Opens the key log, if any.
    func openKeylog() throws(ServerTLSSettings.SetupFailure) -> KeyLogFile? {
        guard let keylogFile else { return nil }
        do { return try KeyLogFile(path: keylogFile) } catch {
            throw ServerTLSSettings.SetupFailure(
                description: "cannot open --keylog \(keylogFile): \(error.message) (\(error.code))"
            )
        }
    }
}
