// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "NetCore",
    products: [
        .library(name: "NetCore", targets: ["NetCore"]),
        .library(name: "NetCoreHTTP", targets: ["NetCoreHTTP"]),
        .library(name: "NetCoreTLS", targets: ["NetCoreTLS"]),
        .library(name: "NetCoreHTTPS", targets: ["NetCoreHTTPS"]),
        .library(name: "NetCoreWebSocket", targets: ["NetCoreWebSocket"]),
        .executable(name: "echo-server", targets: ["EchoServer"]),
        .executable(name: "echo-client", targets: ["EchoClient"]),
        .executable(name: "unix-http", targets: ["UnixHTTP"]),
        .executable(name: "hello-server", targets: ["HelloServer"]),
        .executable(name: "rest-server", targets: ["RestServer"]),
        .executable(name: "cookie-server", targets: ["CookieServer"]),
        .executable(name: "session-server", targets: ["SessionServer"]),
        .executable(name: "chat-server", targets: ["ChatServer"]),
        .executable(name: "netbench", targets: ["NetBench"]),
    ],
    dependencies: [],
    targets: [
        // epoll, eventfd, accept4 and a signal self-pipe: Glibc's Swift module does not expose them (STYLE.md §0).
        .target(name: "CNetCoreShims"),
        .target(name: "NetCore", dependencies: ["CNetCoreShims"]),
        // The system OpenSSL 3 (libssl-dev, pkg-config `openssl`): TLS without a package dependency (issue 11).
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        // Node's `tls` on NetCore: OpenSSL over memory BIOs under NetCore's own stream (issue 11).
        .target(name: "NetCoreTLS", dependencies: ["NetCore", "COpenSSL"]),
        // HTTP/1.1 on NetCore: pure parsers and encoders, a server and a client.
        .target(name: "NetCoreHTTP", dependencies: ["NetCore"]),
        // Node's `https`: NetCoreHTTP over NetCoreTLS. A module of its own, so plain HTTP neither links OpenSSL nor
        // pays for TLS; NetCoreHTTP's only seam for it is a package-level connector on the client's connections.
        .target(name: "NetCoreHTTPS", dependencies: ["NetCoreHTTP", "NetCoreTLS"]),
        // WebSocket (RFC 6455) on NetCore's HTTP server and client: a pure frame codec, the handshake, Node `ws`'s API.
        .target(name: "NetCoreWebSocket", dependencies: ["NetCore", "NetCoreHTTP", "CZlib"]),
        // The system zlib (zlib1g-dev, pkg-config `zlib`) for permessage-deflate (RFC 7692), with a shim for the
        // init macros.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // The command-line programs' logic, kept out of the thin main.swift files so tests can reach it.
        .target(
            name: "NetCoreTools",
            dependencies: ["NetCore", "NetCoreHTTP", "NetCoreTLS", "NetCoreHTTPS", "NetCoreWebSocket"],
            exclude: ["WebAssets/files"]),
        .executableTarget(name: "EchoServer", dependencies: ["NetCoreTools"]),
        .executableTarget(name: "EchoClient", dependencies: ["NetCoreTools"]),
        .executableTarget(name: "UnixHTTP", dependencies: ["NetCoreTools"]),
        // The course's web servers (seeds 000/001/003), one target each like SwiftNIO's examples.
        .executableTarget(name: "HelloServer", dependencies: ["NetCoreTools"]),
        .executableTarget(name: "RestServer", dependencies: ["NetCoreTools"]),
        .executableTarget(name: "CookieServer", dependencies: ["NetCoreTools"]),
        .executableTarget(name: "SessionServer", dependencies: ["NetCoreTools"]),
        // The course's chat (seed 004); for now its raw WebSocket endpoints (issue 12).
        .executableTarget(name: "ChatServer", dependencies: ["NetCoreTools"]),
        // The load generator of Benchmarks/run.sh.
        .executableTarget(name: "NetBench", dependencies: ["NetCore", "NetCoreHTTP", "NetCoreTLS"], path: "Benchmarks/netbench"),
        .testTarget(name: "NetCoreTests", dependencies: ["NetCore"]),
        .testTarget(name: "NetCoreHTTPTests", dependencies: ["NetCoreHTTP"]),
        // NetCoreHTTP too: an HTTPServer served over TLS unchanged is the proof that the transport seam holds.
        // NetCoreHTTPS's tests live here as well (HTTPS*Tests.swift), to share the test PKI and the peers' helpers.
        .testTarget(name: "NetCoreTLSTests", dependencies: ["NetCoreTLS", "COpenSSL", "NetCoreHTTP", "NetCoreHTTPS"]),
        .testTarget(name: "NetCoreWebSocketTests", dependencies: ["NetCoreWebSocket"]),
        // Depends on the executables so `swift test` builds them: the end-to-end tests run the real binaries.
        .testTarget(name: "NetCoreToolsTests", dependencies: [
                "NetCoreTools", "EchoServer", "EchoClient", "UnixHTTP", "HelloServer", "RestServer", "CookieServer",
                "SessionServer", "ChatServer",
            ]),
    ],
    swiftLanguageModes: [.v6]
)
