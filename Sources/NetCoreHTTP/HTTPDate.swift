@preconcurrency import Glibc

/// The `Date` header value (RFC 9110 §5.6.7 IMF-fixdate), formatted at most once per second.
struct HTTPDate {
    private var cachedSecond = -1
    private var cachedValue = ""
    private var cachedFieldLine: [UInt8] = []
    private var cachedFieldSecond = -1

    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Now, e.g. `Sun, 22 Nov 2026 04:05:06 GMT`.
    mutating func now() -> String {
        let seconds = time(nil)
        if seconds == cachedSecond { return cachedValue }
        cachedSecond = seconds
        cachedValue = Self.format(seconds)
        return cachedValue
    }

    /// The whole field line, `Date: <now>\r\n`, as bytes (what every response head appends).
    mutating func fieldLine() -> [UInt8] {
        let seconds = time(nil)
        if seconds != cachedFieldSecond {
            cachedFieldSecond = seconds
            cachedFieldLine = Array("Date: \(now())\r\n".utf8)
        }
        return cachedFieldLine
    }

    static func format(_ seconds: Int) -> String {
        var clock = time_t(seconds)
        var parts = tm()
        gmtime_r(&clock, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return
            "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
