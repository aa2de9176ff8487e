@preconcurrency import Glibc
import Synchronization

// Small helpers with no Foundation: clock, output, number formatting, threads, resource limits.

/// Nanoseconds on the monotonic clock (`loop.now` is only milliseconds and cached per loop turn).
@inline(__always)
func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// One unbuffered `write(2)` per line, so markers reach a pipe or file at once (the run script waits for them).
func emit(_ text: String, fd: Int32 = 1) {
    var line = text + "\n"
    line.withUTF8 { bytes in
        var offset = 0
        while offset < bytes.count {
            let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n > 0 {
                offset += n
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                return
            }
        }
    }
}

func warn(_ text: String) { emit("netbench: " + text, fd: 2) }

/// `value` with exactly `digits` decimals (no Foundation `String(format:)`).
func fixed(_ value: Double, _ digits: Int = 1) -> String {
    guard value.isFinite else { return value.isNaN ? "nan" : (value < 0 ? "-inf" : "inf") }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let negative = value < 0
    let scaled = (abs(value) * scale).rounded()
    guard scaled < 9.0e18 else { return String(value) }
    let units = UInt64(scaled)
    let whole = units / UInt64(scale)
    var text = (negative && units > 0 ? "-" : "") + String(whole)
    if digits > 0 {
        let fraction = String(units % UInt64(scale))
        text += "." + String(repeating: "0", count: digits - fraction.count) + fraction
    }
    return text
}

/// Seconds as given on the command line to nanoseconds.
func nanos(seconds: Double) -> UInt64 { UInt64(max(0, seconds) * 1e9) }

// MARK: - Threads

private final class ThreadEntry: Sendable {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

/// Starts a joinable POSIX thread running `body`.
func startThread(_ body: @escaping @Sendable () -> Void) -> pthread_t {
    let entry = Unmanaged.passRetained(ThreadEntry(body)).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(
        &thread,
        nil,
        { raw in
            Unmanaged<ThreadEntry>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        },
        entry
    )
    precondition(rc == 0, "pthread_create failed: \(rc)")
    return thread
}

func joinThread(_ thread: pthread_t) { pthread_join(thread, nil) }

/// A reusable rendezvous for a fixed number of threads (pthread_barrier_t).
final class Barrier: @unchecked Sendable {
    // @unchecked: the pthread barrier does its own locking; the pointer never changes.
    private let barrier: UnsafeMutablePointer<pthread_barrier_t>

    init(parties: Int) {
        barrier = .allocate(capacity: 1)
        pthread_barrier_init(barrier, nil, UInt32(parties))
    }

    deinit {
        pthread_barrier_destroy(barrier)
        barrier.deallocate()
    }

    func wait() { pthread_barrier_wait(barrier) }
}

/// Raises the soft RLIMIT_NOFILE to cover `descriptors` (capped at the hard limit); returns the new soft limit.
@discardableResult
func raiseDescriptorLimit(to descriptors: Int) -> Int {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return -1 }
    let wanted = rlim_t(descriptors + 64)
    if limit.rlim_cur < wanted {
        limit.rlim_cur = min(wanted, limit.rlim_max)
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
    return Int(limit.rlim_cur)
}

/// VmRSS or VmHWM (kB) of `pid` and all its descendants (nginx's workers, a cluster's children); -1 if unreadable.
func processTreeMemoryKB(_ pid: Int32, field: String = "VmRSS:") -> Int {
    guard pid > 0, let own = statusField(pid, field) else { return -1 }
    var total = own
    if let children = readSmallFile("/proc/\(pid)/task/\(pid)/children") {
        for word in children.split(separator: " ") {
            if let child = Int32(word.filter { $0.isNumber }) {
                let kb = processTreeMemoryKB(child, field: field)
                if kb > 0 { total += kb }
            }
        }
    }
    return total
}

private func statusField(_ pid: Int32, _ field: String) -> Int? {
    guard let text = readSmallFile("/proc/\(pid)/status") else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix(field) {
        return Int(line.dropFirst(field.count).filter { $0.isNumber })
    }
    return nil
}

func readSmallFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        bytes += chunk[0..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// Sleeps for `seconds` (used only outside the measured loops).
func sleepSeconds(_ seconds: Double) {
    var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}
