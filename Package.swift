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
        // The command-line programs' logic, kept out of the thin main.swift files so tests can reach it.
        .target(name: "NetCoreTools", dependencies: ["NetCore"]),
        .executableTarget(name: "EchoServer", dependencies: ["NetCoreTools"]),
        .executableTarget(name: "EchoClient", dependencies: ["NetCoreTools"]),
        .executableTarget(name: "UnixHTTP", dependencies: ["NetCore"]),
        .testTarget(name: "NetCoreTests", dependencies: ["NetCore"]),
        // Depends on the executables so `swift test` builds them: the end-to-end tests run the real binaries.
        .testTarget(name: "NetCoreToolsTests", dependencies: ["NetCoreTools", "EchoServer", "EchoClient", "UnixHTTP"]),
    ],
    swiftLanguageModes: [.v6]
)
