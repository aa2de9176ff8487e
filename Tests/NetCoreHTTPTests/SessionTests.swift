import Testing

@testable import NetCoreHTTP

/// `SessionID` and `InMemorySessionStore`, with an injected clock (milliseconds).
@Suite(.timeLimit(.minutes(1))) struct SessionTests {
    /// A clock the test moves by hand.
    final class ManualClock {
        var milliseconds = 1_796_194_800_000
        func advance(_ by: Int) { milliseconds += by }
    }

    static func makeStore(maxEntries: Int = 100) -> (InMemorySessionStore, ManualClock) {
        let clock = ManualClock()
        return (InMemorySessionStore(maxEntries: maxEntries, clock: { clock.milliseconds }), clock)
    }

    // MARK: - Ids

    @Test func generate_gives32LowercaseHexDigits_unique() {
        var seen = Set<String>()
        for _ in 0..<10_000 {
            let id = SessionID.generate()
            #expect(id.utf8.count == 32)
            #expect(id.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
            #expect(SessionID.isWellFormed(id))
            seen.insert(id)
        }
        #expect(seen.count == 10_000)
    }

    @Test(arguments: [
        "", "abc", "0123456789abcdef0123456789abcde", "0123456789abcdef0123456789abcdef0",
        "0123456789ABCDEF0123456789ABCDEF", "0123456789abcdef0123456789abcdeg", "0123456789abcdef 123456789abcdef",
        "../../../../etc/passwd0000000000", "0123456789abcdef0123456789abcdé",
    ])
    func isWellFormed_rejectsOtherText(_ text: String) {
        #expect(!SessionID.isWellFormed(text))
    }

    // MARK: - Store

    @Test func create_thenGet_returnsData_andExpiry() {
        let (store, clock) = Self.makeStore()
        let id = store.create(["name": "홍길동"], lifetime: 300_000)
        #expect(SessionID.isWellFormed(id))
        #expect(store.get(id) == ["name": "홍길동"])
        #expect(store.expiry(of: id) == clock.milliseconds + 300_000)
        #expect(store.now() == clock.milliseconds)
    }

    @Test func get_expiredSession_isNil_andRemoved() {
        let (store, clock) = Self.makeStore()
        let id = store.create(["name": "kim"], lifetime: 1000)
        clock.advance(999)
        #expect(store.get(id) == ["name": "kim"])
        clock.advance(1)  // the expiry instant itself is expired, as `expires > new Date()` in the seed
        #expect(store.get(id) == nil)
        #expect(store.expiry(of: id) == nil)
        #expect(store.count == 0)
    }

    @Test func get_unknownOrMalformedOrGuessedId_isNil() {
        let (store, _) = Self.makeStore()
        let id = store.create(["name": "kim"], lifetime: 60_000)
        #expect(store.get(SessionID.generate()) == nil)
        #expect(store.get("") == nil)
        #expect(store.get(id.uppercased()) == nil)
        #expect(store.get(String(id.dropLast())) == nil)
        #expect(store.get(id + "0") == nil)
        #expect(store.get("1733131111111") == nil)  // the seed's Date.now() id
        // Flipping any one hex digit gives an unknown id.
        for position in 0..<32 {
            var bytes = Array(id.utf8)
            bytes[position] = bytes[position] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
            #expect(store.get(String(decoding: bytes, as: UTF8.self)) == nil)
        }
        #expect(store.get(id) != nil)
    }

    @Test func set_replaces_delete_forgets() {
        let (store, clock) = Self.makeStore()
        let id = SessionID.generate()
        #expect(store.set(id, ["a": "1"], expiresAt: clock.milliseconds + 10))
        #expect(store.set(id, ["a": "2"], expiresAt: clock.milliseconds + 20))
        #expect(store.get(id) == ["a": "2"])
        #expect(store.expiry(of: id) == clock.milliseconds + 20)
        store.delete(id)
        #expect(store.get(id) == nil)
        store.delete(id)  // twice is fine
        store.delete("not an id")
    }

    @Test func set_refusesMalformedIdOrPastExpiry() {
        let (store, clock) = Self.makeStore()
        #expect(!store.set("short", ["a": "1"], expiresAt: clock.milliseconds + 10))
        #expect(!store.set(SessionID.generate(), ["a": "1"], expiresAt: clock.milliseconds))
        #expect(!store.set(SessionID.generate(), ["a": "1"], expiresAt: .min))
        #expect(store.count == 0)
        // A zero or negative lifetime still makes a session that lives for a millisecond, never one born expired.
        let id = store.create(lifetime: 0)
        #expect(store.get(id) == [:])
        // An enormous lifetime saturates instead of overflowing.
        let forever = store.create(lifetime: .max)
        #expect(store.expiry(of: forever) == .max)
    }

    @Test func maxEntries_boundsTheStore_evictingSoonestExpiringFirst() {
        let (store, clock) = Self.makeStore(maxEntries: 64)
        let longLived = store.create(["keep": "yes"], lifetime: 1_000_000)
        var ids: [String] = []
        for index in 0..<1000 {
            ids.append(store.create(["n": "\(index)"], lifetime: 10_000 + index))
            #expect(store.count <= 64)
        }
        #expect(store.get(longLived) == ["keep": "yes"])
        #expect(store.get(ids[999]) == ["n": "999"])
        #expect(store.get(ids[0]) == nil)
        clock.advance(1)
        #expect(store.count <= 64)
    }

    @Test func expiredSessions_arePurged_soMemoryFollowsLiveSessions() {
        let (store, clock) = Self.makeStore(maxEntries: 1_000_000)
        for _ in 0..<5000 { _ = store.create(lifetime: 1000) }
        #expect(store.count == 5000)
        clock.advance(1000)
        // None is read again; writes alone sweep them out.
        for _ in 0..<5000 { _ = store.create(lifetime: 1000) }
        #expect(store.count <= 5000)
        clock.advance(1000)
        store.purgeExpired()
        #expect(store.count == 0)
    }

    @Test func defaultClock_isWallClockMilliseconds() {
        let store = InMemorySessionStore()
        // 2020-01-01 and 2100-01-01: the wall clock in milliseconds, not seconds or nanoseconds.
        #expect(store.now() > 1_577_836_800_000 && store.now() < 4_102_444_800_000)
        let id = store.create(["x": "y"], lifetime: 60_000)
        #expect(store.get(id) == ["x": "y"])
    }

    @Test func worksThroughTheProtocol() {
        let (concrete, _) = Self.makeStore()
        let store: any SessionStore = concrete
        let id = store.create(["a": "b"], lifetime: 5)
        #expect(store.get(id) == ["a": "b"])
    }
}
