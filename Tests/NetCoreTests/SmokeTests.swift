import Testing
@testable import NetCore

@Suite struct SmokeTests {
    @Test(arguments: Transport.allCases)
    func echo_roundTrip_overTransport(_ transport: Transport) {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        var received = ""
        var events: [String] = []
        runLoop { loop in
            let server = Net.createServer(loop: loop) { socket in
                socket.on(.data) { socket.write("Repeating: ", $0) }
            }
            listen(server, on: transport, directory: directory) { connect in
                let client = connect(false)
                client.on(.connect) { client.write("hello") }
                client.on(.data) { chunk in
                    received += chunk.string
                    client.end()
                }
                client.on(.end) { events.append("end") }
                client.on(.finish) { events.append("finish") }
                client.on(.close) { hadError in
                    events.append("close(\(hadError))")
                    server.close()
                }
            }
        }
        #expect(received == "Repeating: hello")
        #expect(events == ["finish", "end", "close(false)"])
    }
}
