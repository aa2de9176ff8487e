// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "NetCore",
    products: [
        .library(name: "NetCore", targets: ["NetCore"]),
        .executable(name: "echo-server", targets: ["EchoServer"]),
        .executable(name: "echo-client", targets: ["EchoClient"]),
        .executable(name: "unix-http", targets: ["UnixHTTP"]),
    ],
    dependencies: [],
    targets: [
        // epoll, eventfd, accept4 and a signal self-pipe: Glibc's Swift module does not expose them (STYLE.md §0).
        .target(name: "CNetCoreShims"),
        .target(name: "NetCore", dependencies: ["CNetCoreShims"]),
        .executableTarget(name: "EchoServer", dependencies: ["NetCore"]),
        .executableTarget(name: "EchoClient", dependencies: ["NetCore"]),
        .executableTarget(name: "UnixHTTP", dependencies: ["NetCore"]),
        .testTarget(name: "NetCoreTests", dependencies: ["NetCore"]),
    ],
    swiftLanguageModes: [.v6]
)
