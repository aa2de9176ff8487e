import NetCore
import NetCoreTLS

/// `--tls [--cert FILE --key FILE] [--write-cert FILE] [--keylog FILE]`, the same on every server program
/// (echo-server, unix-http, and the course web servers through `WebServerSettings`).
///
/// Without `--cert`/`--key`, `prepare` makes an ephemeral self-signed certificate for localhost, 127.0.0.1 and ::1
/// and prints its SHA-256 fingerprint as one line on stderr, so `--tls` works with no files; `--write-cert FILE`
/// saves that certificate for clients (`curl --cacert FILE`, `openssl s_client -CAfile FILE`).
public struct ServerTLSSettings: Sendable {
    /// The certificate file (PEM, intermediates after the leaf); nil: a self-signed one is made.
    public var certFile: String?
    /// The private key file of `certFile` (PEM).
    public var keyFile: String?
    /// Where to save the generated certificate.
    public var writeCertFile: String?
    /// Where to append NSS key log lines.
    public var keylogFile: String?

    /// The options, in `--help` order.
    public static let options: [Arguments.Option] = [
        .init(
            "tls",
            help: "serve TLS; without --cert/--key, with a self-signed certificate made at start (fingerprint on stderr)"
        ),
        .init("cert", .value(placeholder: "FILE"), help: "with --tls: the certificate (PEM; intermediates after it)"),
        .init("key", .value(placeholder: "FILE"), help: "with --tls: the private key of --cert (PEM)"),
        .init(
            "write-cert",
            .value(placeholder: "FILE"),
            help: "with --tls and no --cert: save the generated certificate for clients (curl --cacert FILE)"
        ),
        .init(
            "keylog",
            .value(placeholder: "FILE"),
            help: "with --tls: append the TLS secrets to FILE (NSS key log; lets Wireshark decrypt a capture)"
        ),
    ]

    /// The `--help` line on the exit code for TLS set-up failures, the same on every server.
    public static let exitCodeHelp =
        "  4  TLS set-up failed: --cert/--key unreadable, not PEM or not matching; --write-cert/--keylog not writable"

    /// The settings in `parsed`; nil without `--tls`. The TLS options without `--tls`, `--cert` without `--key` (or
    /// the reverse), `--write-cert` with `--cert`, or an empty path are usage errors.
    public static func parse(_ parsed: Arguments) throws(Arguments.UsageError) -> ServerTLSSettings? {
        let names = ["cert", "key", "write-cert", "keylog"]
        for name in names where parsed.values[name]?.isEmpty == true {
            throw Arguments.UsageError(description: "--\(name) needs a non-empty path")
        }
        guard parsed.has("tls") else {
            if let given = names.first(where: { parsed.values[$0] != nil }) {
                throw Arguments.UsageError(description: "--\(given) needs --tls")
            }
            return nil
        }
        let settings = ServerTLSSettings(
            certFile: parsed.values["cert"],
            keyFile: parsed.values["key"],
            writeCertFile: parsed.values["write-cert"],
            keylogFile: parsed.values["keylog"]
        )
        if (settings.certFile == nil) != (settings.keyFile == nil) {
            throw Arguments.UsageError(description: "--cert and --key go together")
        }
        if settings.certFile != nil && settings.writeCertFile != nil {
            throw Arguments.UsageError(
                description: "--write-cert saves a generated certificate; with --cert, give clients that file"
            )
        }
        return settings
    }

    /// A TLS set-up failure, printed as one line after the program's name; exit code 4.
    public struct SetupFailure: Error, Sendable, CustomStringConvertible {
        /// E.g. "cannot use --cert /x.pem: ENOENT: no such file or directory, open '/x.pem'".
        public let description: String
    }

    /// Loads and checks the certificate and key (or makes a self-signed pair, prints its fingerprint and saves it
    /// with `--write-cert`), and opens the key log. `given` is a pair made earlier (a `--workers` supervisor's, for
    /// its workers): then nothing is made, printed or written. `name` prefixes the fingerprint line.
    public func prepare(name: String, given: (certificatePEM: String, keyPEM: String)? = nil) throws(SetupFailure)
        -> ServerTLS
    {
        let certificatePEM: String
        let keyPEM: String
        var generated = false
        if let given {
            (certificatePEM, keyPEM) = given
        } else if let certFile, let keyFile {
            certificatePEM = try Self.readText(certFile, option: "cert")
            keyPEM = try Self.readText(keyFile, option: "key")
        } else {
            let made: SelfSignedCertificate
            do { made = try SelfSignedCertificate.make() } catch {
                throw SetupFailure(
                    description: "cannot make a self-signed certificate: \(error.message) (\(error.code))"
                )
            }
            (certificatePEM, keyPEM) = (made.certificatePEM, made.keyPEM)
            generated = true
            Console.error(
                "\(name): TLS with a self-signed certificate for localhost, 127.0.0.1, ::1; SHA-256 fingerprint "
                    + made.fingerprint256
            )
        }
        // One context now, so a bad PEM or a key of another certificate fails at start, not per connection.
        do {
            _ = try SecureContext(SecureContextOptions(key: .text(keyPEM), cert: .text(certificatePEM)))
        } catch {
            let what = certFile.map { "--cert \($0) with --key \(keyFile ?? "")" } ?? "the certificate"
            throw SetupFailure(description: "cannot use \(what): \(error.message) (\(error.code))")
        }
        if generated, let writeCertFile {
            do { try TextFile.write(certificatePEM, to: writeCertFile, mode: 0o644) } catch {
                throw SetupFailure(
                    description: "cannot write --write-cert \(writeCertFile): \(error.message) (\(error.code))"
                )
            }
        }
        var keylog: KeyLogFile?
        if let keylogFile {
            do { keylog = try KeyLogFile(path: keylogFile) } catch {
                throw SetupFailure(description: "cannot open --keylog \(keylogFile): \(error.message) (\(error.code))")
            }
        }
        return ServerTLS(certificatePEM: certificatePEM, keyPEM: keyPEM, wasGenerated: generated, keylog: keylog)
    }

    private static func readText(_ path: String, option: String) throws(SetupFailure) -> String {
        do { return String(decoding: try PEMSource.file(path).bytes(), as: UTF8.self) } catch {
            throw SetupFailure(description: "cannot read --\(option) \(path): \(error.message)")
        }
    }
}

/// A server program's certificate and key, loaded and checked once, and its key log: what every server of the
/// process (each echo-server worker thread, say) makes its `TLSServer` from.
public final class ServerTLS: Sendable {
    /// The certificate, PEM.
    public let certificatePEM: String
    /// The private key, PEM.
    public let keyPEM: String
    /// Whether the pair was made at start (self-signed) rather than read from `--cert`/`--key`.
    public let wasGenerated: Bool
    let keylog: KeyLogFile?

    init(certificatePEM: String, keyPEM: String, wasGenerated: Bool, keylog: KeyLogFile?) {
        self.certificatePEM = certificatePEM
        self.keyPEM = keyPEM
        self.wasGenerated = wasGenerated
        self.keylog = keylog
    }

    /// `TLS.createServer`'s options for this certificate (`configure` adds a program's own).
    public func options(_ configure: (inout TLSServer.Options) -> Void = { _ in }) -> TLSServer.Options {
        var options = TLSServer.Options(key: .text(keyPEM), cert: .text(certificatePEM))
        configure(&options)
        return options
    }

    /// Makes `server`'s connections TLS (its own context per server, so servers on several loops share no mutable
    /// OpenSSL state), with the key log. Failed handshakes are logged as one line each unless `quiet`.
    @discardableResult
    public func attach(to server: Server, name: String, quiet: Bool) throws(TLSError) -> TLSServer {
        let tls = try TLSServer(options(), over: server)
        if let keylog { tls.on(.keylog) { line, _ in keylog.append(line.bytes) } }
        if !quiet {
            tls.on(.tlsClientError) { error, socket in
                let peer = socket.remoteAddress.map { "\($0) \(socket.remotePort ?? 0)" } ?? "a client"
                Console.error("\(name): TLS handshake with \(peer) failed: \(error.code) (\(error.message))")
            }
        }
        return tls
    }
}
