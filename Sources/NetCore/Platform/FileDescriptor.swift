/// Owns one open descriptor and closes it exactly once (STYLE.md §2.5).
final class FileDescriptor {
    /// The raw descriptor; -1 once closed.
    private(set) var rawValue: Int32

    init(_ rawValue: Int32) {
        precondition(rawValue >= 0, "FileDescriptor needs an open descriptor")
        self.rawValue = rawValue
    }

    var isOpen: Bool { rawValue >= 0 }

    /// Closes the descriptor; later calls do nothing.
    func close() {
        guard rawValue >= 0 else { return }
        Posix.close(rawValue)
        rawValue = -1
    }

    deinit {
        assert(rawValue < 0, "leaked file descriptor \(rawValue)")
        // In release builds a leak is still better closed than kept.
        if rawValue >= 0 { Posix.close(rawValue) }
    }
}

@available(*, unavailable)
extension FileDescriptor: Sendable {}
