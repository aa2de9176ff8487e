import NetCore

/// Server-side sessions keyed by an unguessable id carried in a cookie.
///
/// Session data is a `[String: String]` (the course's session holds a name; anything richer can be encoded, for
/// instance as JSON with `JSONValue`). Times are milliseconds since the Unix epoch, JavaScript's `Date.now()`, from
/// the store's clock, so tests can inject one. Stores are synchronous and, like the rest of the loop's objects,
/// meant to be used from one thread.
///
/// ```swift
/// let sessions = InMemorySessionStore()
/// // on login
/// let id = sessions.create(["name": name], lifetime: 5 * 60_000)
/// let cookie = SetCookie(name: "session", value: id, expires: sessions.expiry(of: id).map { $0 / 1000 },
///                        path: "/", httpOnly: true)
/// response.writeHead(302, headers: ["Location": "/", "Set-Cookie": try cookie.serialized()])
/// // on later requests
/// let sessionID = Cookies.parse(request.headers["cookie"])["session"] ?? ""
/// if let session = sessions.get(sessionID) { … session["name"] … }
/// ```
public protocol SessionStore: AnyObject {
    /// The current time in milliseconds since the epoch, as this store sees it.
    func now() -> Int
    /// The data of session `id`, or nil if `id` is unknown, malformed or expired.
    func get(_ id: String) -> [String: String]?
    /// Stores `data` for `id` until `expiresAt` (milliseconds since the epoch), replacing what was there.
    /// Returns false, storing nothing, if `id` is not a well-formed `SessionID` or `expiresAt` is not in the future.
    @discardableResult func set(_ id: String, _ data: [String: String], expiresAt: Int) -> Bool
    /// Forgets session `id` (logout). Unknown ids are ignored.
    func delete(_ id: String)
    /// When session `id` expires, in milliseconds since the epoch; nil if it is unknown, malformed or expired.
    func expiry(of id: String) -> Int?
}

extension SessionStore {
    /// Starts a session holding `data` that lasts `lifetime` milliseconds from now, and returns its new id.
    public func create(_ data: [String: String] = [:], lifetime: Int) -> String {
        let id = SessionID.generate()
        // Saturating: a lifetime of `.max` means "until the end of time", not an overflow trap.
        let (expiresAt, overflow) = now().addingReportingOverflow(max(1, lifetime))
        set(id, data, expiresAt: overflow ? .max : expiresAt)
        return id
    }
}

/// Session ids: 128 bits from the kernel's CSPRNG (`SystemRandom`), as 32 lower-case hex digits.
///
/// Hex rather than base64url so the id is cookie-safe, URL-safe and case-unambiguous with no encoding step;
/// 2^128 possibilities make guessing a live id hopeless even with millions of sessions.
public enum SessionID {
    /// The length of an id in characters.
    public static let length = 32

    /// A fresh random id, e.g. `"3f9c0a5e1b7d4c2a8e6f0b1d2c3a4e5f"`.
    public static func generate() -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(length)
        for byte in SystemRandom.bytes(length / 2) {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Whether `text` has the form of an id: exactly 32 characters `0-9a-f`.
    public static func isWellFormed(_ text: String) -> Bool {
        text.utf8.count == length
            && text.utf8.allSatisfy { byte in
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
            }
    }
}

/// The embedded session store: a dictionary in memory, lost when the process exits.
///
/// Memory stays bounded by live sessions: an expired session is dropped when it is read, and the whole table is
/// swept of expired entries once the writes since the last sweep reach the number of sessions that sweep left, so
/// the table never holds more than twice that number (or 128), at O(1) amortized cost per write. `purgeExpired()`
/// can also be called from a timer. At most `maxEntries` sessions are kept: when a new one would exceed that, the
/// expired ones go first and then the sixteenth of the table nearest expiry, so a flood of logins costs amortized
/// O(log n) per login and pushes out only the sessions closest to ending anyway.
public final class InMemorySessionStore: SessionStore {
    private struct Entry {
        var data: [String: String]
        var expiresAt: Int
    }

    /// The most sessions kept at once.
    public let maxEntries: Int
    private let clock: () -> Int
    private var entries: [String: Entry] = [:]
    private var writesSinceSweep = 0
    private var countAfterSweep = 0

    /// A store holding at most `maxEntries` sessions (at least 1), reading time from `clock` (milliseconds since
    /// the epoch; the default is the system's wall clock, like `Date.now()`).
    public init(maxEntries: Int = 100_000, clock: @escaping () -> Int = InMemorySessionStore.wallClockMilliseconds) {
        self.maxEntries = max(1, maxEntries)
        self.clock = clock
    }

    /// The system's wall-clock time in milliseconds since the epoch.
    public static func wallClockMilliseconds() -> Int { Int(FileSystem.wallClockNanoseconds() / 1_000_000) }

    /// The number of sessions held, including expired ones not yet swept.
    public var count: Int { entries.count }

    /// The store's clock.
    public func now() -> Int { clock() }

    /// See `SessionStore.get(_:)`. An expired entry is removed on the way.
    public func get(_ id: String) -> [String: String]? {
        liveEntry(id)?.data
    }

    /// See `SessionStore.set(_:_:expiresAt:)`.
    @discardableResult public func set(_ id: String, _ data: [String: String], expiresAt: Int) -> Bool {
        guard SessionID.isWellFormed(id) else { return false }
        let now = clock()
        guard expiresAt > now else { return false }
        writesSinceSweep += 1
        // Sweeping once the writes since the last sweep reach the size it left keeps expired entries below the
        // live ones plus a margin, at O(1) amortized cost per write.
        if writesSinceSweep >= max(64, countAfterSweep) { purgeExpired(now: now) }
        if entries[id] == nil && entries.count >= maxEntries { makeRoom(now: now) }
        entries[id] = Entry(data: data, expiresAt: expiresAt)
        return true
    }

    /// See `SessionStore.delete(_:)`.
    public func delete(_ id: String) {
        entries[id] = nil
    }

    /// See `SessionStore.expiry(of:)`.
    public func expiry(of id: String) -> Int? {
        liveEntry(id)?.expiresAt
    }

    /// Drops every expired session now.
    public func purgeExpired() {
        purgeExpired(now: clock())
    }

    // MARK: - Private

    private func liveEntry(_ id: String) -> Entry? {
        // Malformed ids never reach the table, so arbitrary cookie text costs no more than a length check.
        guard SessionID.isWellFormed(id), let entry = entries[id] else { return nil }
        guard entry.expiresAt > clock() else {
            entries[id] = nil
            return nil
        }
        return entry
    }

    private func purgeExpired(now: Int) {
        writesSinceSweep = 0
        entries = entries.filter { $0.value.expiresAt > now }
        countAfterSweep = entries.count
    }

    private func makeRoom(now: Int) {
        purgeExpired(now: now)
        guard entries.count >= maxEntries else { return }
        let evictCount = max(1, entries.count - maxEntries + 1, maxEntries / 16)
        let soonest = entries.sorted { $0.value.expiresAt < $1.value.expiresAt }.prefix(evictCount)
        for (id, _) in soonest { entries[id] = nil }
    }
}

@available(*, unavailable)
extension InMemorySessionStore: Sendable {}
