@preconcurrency import Glibc

// netbench: the load generator of Benchmarks/run.sh. One EventLoop per thread, connections spread over threads;
// see `Options.usage` for the modes.

signal(SIGPIPE, SIG_IGN)

func runMain(_ arguments: [String]) -> Int32 {
    if arguments.isEmpty || arguments.first == "--help" || arguments.first == "-h" || arguments.first == "help" {
        emit(Options.usage)
        return arguments.isEmpty ? 2 : 0
    }
    do {
        let options = try Options(arguments)
        switch options.mode {
        case "echo": return EchoMode.run(try EchoMode.parse(options))
        case "http": return HTTPMode.run(try HTTPMode.parse(options))
        case "conns": return ConnsMode.run(try ConnsMode.parse(options))
        case "handshakes": return HandshakeMode.run(try HandshakeMode.parse(options))
        case "selftest": return SelfTest.run()
        case "probe": return StartupMode.probe(try StartupMode.parse(options, defaultProbe: .connect))
        case "startup": return StartupMode.startup(try StartupMode.parse(options, defaultProbe: .echo))
        default: throw Options.UsageError(description: "unknown mode '\(options.mode)'")
        }
    } catch {
        warn("\(error) (see netbench --help)")
        return 2
    }
}

exit(runMain(Array(CommandLine.arguments.dropFirst())))
