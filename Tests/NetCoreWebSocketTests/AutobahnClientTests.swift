import Foundation
import Testing
import NetCore
@testable import NetCoreWebSocket

/// Our client under Autobahn|Testsuite's fuzzingserver: `scripts/autobahn.sh --client` starts the fuzzingserver and
/// runs this with `AUTOBAHN_FUZZINGSERVER=ws://127.0.0.1:PORT`; otherwise it is skipped. Every case is an echo: the
/// client sends back each message it gets; the suite judges the exchange and the close.
@Suite struct AutobahnClientTests {
    static let server = ProcessInfo.processInfo.environment["AUTOBAHN_FUZZINGSERVER"]

    @Test(.enabled(if: server != nil, "run by scripts/autobahn.sh --client"))
    func autobahnFuzzingserver_drivesOurClient() {
        let base = Self.server ?? ""
        var finished = false
        runWSLoop(seconds: 3600) { loop in
            var options = WebSocket.Options()
            options.perMessageDeflate = PerMessageDeflateOptions()
            func updateReports() {
                let ws = WebSocket(url: base + "/updateReports?agent=NetCore", loop: loop)
                ws.on(.close) { _, _ in finished = true }
            }
            func run(_ number: Int, of count: Int) {
                guard number <= count else {
                    updateReports()
                    return
                }
                let ws = WebSocket(url: base + "/runCase?case=\(number)&agent=NetCore", options: options, loop: loop)
                ws.on(.message) { ws.send($0) }
                ws.on(.error) { _ in }
                ws.on(.close) { _, _ in run(number + 1, of: count) }
            }
            let counter = WebSocket(url: base + "/getCaseCount", loop: loop)
            var count = 0
            counter.on(.message) { count = Int($0.text ?? "") ?? 0 }
            counter.on(.close) { _, _ in run(1, of: count) }
        }
        #expect(finished)
    }
}
