import Testing

@testable import NetCoreTLS

/// The session state value on its own: every named transition from every state.
@Suite struct TLSSessionStateTests {
    static let all: [TLSSessionState] = [.handshaking, .open, .closing(.sent), .closing(.received), .closed, .failed]

    private func after(_ state: TLSSessionState, _ transition: (inout TLSSessionState) -> Void) -> TLSSessionState {
        var copy = state
        transition(&copy)
        return copy
    }

    @Test func transitions() {
        #expect(after(.handshaking) { $0.handshakeCompleted() } == .open)
        #expect(after(.open) { $0.handshakeCompleted() } == .open)
        #expect(after(.open) { $0.sentCloseNotify() } == .closing(.sent))
        #expect(after(.open) { $0.receivedCloseNotify() } == .closing(.received))
        #expect(after(.closing(.sent)) { $0.receivedCloseNotify() } == .closed)
        #expect(after(.closing(.received)) { $0.sentCloseNotify() } == .closed)
        #expect(after(.closing(.sent)) { $0.sentCloseNotify() } == .closing(.sent))
        #expect(after(.handshaking) { $0.sentCloseNotify() } == .handshaking)
        for state in Self.all {
            #expect(after(state) { $0.fail() } == (state == .closed ? .closed : .failed))
            #expect(after(state) { $0.transportClosed() } == (state == .failed ? .failed : .closed))
        }
    }

    @Test func whatEachStateAllows() {
        #expect(Self.all.filter(\.canSend) == [.open, .closing(.received)])
        #expect(Self.all.filter(\.canReceive) == [.open, .closing(.sent)])
    }
}
