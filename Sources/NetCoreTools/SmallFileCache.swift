import NetCore

/// The contents of small files kept between requests, so a hot file costs one `fstatat` instead of
/// open + fstat + pread + close.
///
/// Never stale: every use is revalidated against the entry's current status (device, inode, size, modification and
/// change times, symlinks not followed), so a file replaced, rewritten, truncated or chmod-ed is read afresh. File
/// times come from a coarse kernel clock, so a write in the same clock tick as the read that filled an entry could
/// leave the times unchanged ("racy git"); an entry is therefore only kept when its change time is at least
/// `settleNanoseconds` older than the moment it was read, so any later change shows as a newer change time.
/// A pure value: the caller does the system calls and passes their results in.
struct SmallFileCache {
    struct Entry {
        let status: FileSystem.Status
        let contents: Buffer
    }

    /// How long a file must have been unchanged before its contents are kept (far above the kernel's timestamp
    /// granularity of a few milliseconds).
    static let settleNanoseconds: Int64 = 1_000_000_000

    let maxBytes: Int
    let maxEntries: Int
    private var entries: [String: Entry] = [:]
    /// Bytes of contents held.
    private(set) var byteCount = 0

    /// A cache holding at most `maxEntries` files and `maxBytes` of contents.
    init(maxBytes: Int = 8 * 1024 * 1024, maxEntries: Int = 1024) {
        self.maxBytes = maxBytes
        self.maxEntries = maxEntries
    }

    var count: Int { entries.count }

    /// The contents of `name` if they were read from a file whose status was exactly what `current` says now;
    /// nil (and the stale entry dropped) otherwise. `current` (the system call) runs only when there is an entry.
    mutating func contents(of name: String, current: () -> FileSystem.Status?) -> Buffer? {
        guard let entry = entries[name] else { return nil }
        if let status = current(), status == entry.status { return entry.contents }
        entries[name] = nil
        byteCount -= entry.contents.count
        return nil
    }

    /// Keeps `contents`, read at wall-clock time `readAt` from a file with status `status`, if the file had settled
    /// (see the type's comment) and they fit. When full, everything is dropped: simple, bounded, and a working set
    /// that fits refills at once.
    mutating func store(_ name: String, status: FileSystem.Status, contents: Buffer, readAt: Int64) {
        guard case .regular(let size) = status.kind, size == contents.count,
            readAt - status.changed >= Self.settleNanoseconds, readAt - status.modified >= Self.settleNanoseconds,
            contents.count <= maxBytes
        else { return }
        if let old = entries[name] { byteCount -= old.contents.count }
        if entries.count >= maxEntries || byteCount + contents.count > maxBytes {
            entries.removeAll()
            byteCount = 0
        }
        entries[name] = Entry(status: status, contents: contents)
        byteCount += contents.count
    }
}
