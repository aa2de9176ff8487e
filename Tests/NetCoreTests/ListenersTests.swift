import Testing
@testable import NetCore

/// The listener list behind every event: order, `once`, and that fired once-listeners do not pile up.
@Suite struct ListenersTests {
    private final class Token {}

    @Test func emit_callsListenersInOrder_andOnceListenersOnlyOnce() {
        var log: [String] = []
        var listeners = Listeners<Int>()
        listeners.append { log.append("a\($0)") }
        listeners.appendOnce { log.append("once\($0)") }
        listeners.append { log.append("b\($0)") }
        listeners.emit(1)
        listeners.emit(2)
        #expect(log == ["a1", "once1", "b1", "a2", "b2"])
        #expect(listeners.count == 2)
    }

    /// Found by profiling the stream benchmark: echo-server adds `once(.drain)` on every write that returns false,
    /// and fired once-listeners were never removed, so each drain ran every one ever added (and held its captures).
    @Test func onceListenersAddedRepeatedly_doNotAccumulate_andReleaseTheirCaptures() {
        var listeners = Listeners<Void>()
        var runs = 0
        weak var firstCapture: Token?
        for round in 0..<1000 {
            let token = Token()
            if round == 0 { firstCapture = token }
            listeners.appendOnce { _ = token; runs += 1 }
            listeners.emit(())
            #expect(listeners.count == 0)
        }
        #expect(runs == 1000)
        listeners.appendOnce {}  // purges the last fired one
        #expect(firstCapture == nil, "a fired once-listener still holds what it captured")
    }

    @Test func dropping_firedOnceListeners_keepsTheOthersInOrder() {
        var log: [Int] = []
        var listeners = Listeners<Int>()
        listeners.appendOnce { log.append(100 + $0) }
        listeners.append { log.append(200 + $0) }
        listeners.appendOnce { log.append(300 + $0) }
        listeners.emit(1)
        listeners.append { log.append(400 + $0) }  // purges both fired once-listeners
        listeners.emit(2)
        #expect(log == [101, 201, 301, 202, 402])
        #expect(listeners.count == 2)
    }
}
