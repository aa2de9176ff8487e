import Foundation
import Testing
@testable import NetCoreTools
import NetCoreHTTP
import NetCore

/// The pure pieces of unix-http: target and query parsing, and confinement of file names to the root.
@Suite struct FileServingTests {
    private func parts(_ target: String) -> [String?]? {
        RequestTarget(target).map { [$0.path, $0.query] }
    }

    @Test func requestTarget_splitsOriginAndAbsoluteForms() {
        #expect(parts("/?file=a") == ["/", "file=a"])
        #expect(parts("/x") == ["/x", nil])
        #expect(parts("http://localhost/?file=a") == ["/", "file=a"])
        #expect(parts("HTTP://localhost:8080?file=a") == ["/", "file=a"])
        #expect(parts("http://localhost") == ["/", nil])
        #expect(parts("localhost:80") == nil)
        #expect(parts("ftp://x/") == nil)
    }

    @Test func queryString_decodesLikeNode() {
        #expect(QueryString.value(of: "file", in: "a=1&file=my+file%2Etxt") == .some("my file.txt"))
        #expect(QueryString.value(of: "file", in: "file=") == .some(""))
        #expect(QueryString.value(of: "file", in: "file") == .some(""))
        #expect(QueryString.value(of: "file", in: "other=1") == .some(nil))
        #expect(QueryString.value(of: "file", in: nil) == .some(nil))
        #expect(QueryString.value(of: "file", in: "file=%zz") == nil)  // malformed escape
        #expect(QueryString.value(of: "file", in: "file=%ff") == nil)  // not UTF-8
        #expect(QueryString.value(of: "file", in: "file=%E2%82%AC") == .some("€"))
    }

    @Test func queryStringValue_agreesWithParse() {
        let queries = [
            "", "file=a", "a=1&file=b&file=c", "&&file=x&&", "file", "file=", "=v&file=k", "fi%6Ce=enc", "file=a+b%20c",
            "x=%zz&file=a", "file=a&x=%zz", "file=%ff", "x=%E2%82%AC&file=%E2%82%AC", "file=a=b", "+file=1&file=2",
            "file+=1", "%66ile=z",
        ]
        for query in queries {
            let viaParse: String?? = QueryString.parse(query).map { pairs in pairs.first { $0.key == "file" }?.value }
            #expect(QueryString.value(of: "file", in: query) == viaParse, "query \(query.debugDescription)")
        }
    }

    /// Found by fuzz-query: `&` or `=` followed by a combining mark is one Swift `Character`, and splitting the string
    /// by characters missed the separator (so `parse` and `value(of:in:)` disagreed). Node splits on code units.
    @Test func queryString_splitsOnSeparatorBytes_evenBeforeACombiningMark() throws {
        let query = "x=1&\u{301}y=2&z=\u{301}"
        let pairs = try #require(QueryString.parse(query))
        #expect(pairs.map { Array($0.key.utf8) } == [Array("x".utf8), Array("\u{301}y".utf8), Array("z".utf8)])
        #expect(pairs.map { Array($0.value.utf8) } == [Array("1".utf8), Array("2".utf8), Array("\u{301}".utf8)])
        #expect(QueryString.value(of: "x", in: query) == .some("1"))
        #expect(QueryString.value(of: "z", in: query).map { $0.map { Array($0.utf8) } } == .some(Array("\u{301}".utf8)))
    }

    @Test func fileResolver_findsDotDotComponents() {
        for name in ["..", "../a", "a/..", "a/../b", "./..", "a//../b"] {
            #expect(FileResolver.hasDotDotComponent(name), "\(name)")
        }
        for name in ["a", ".", "...", "..a", "a..", ".a.", "a/.../b", "a/./b", ".../...", "a/b.."] {
            #expect(!FileResolver.hasDotDotComponent(name), "\(name)")
        }
    }

    @Test func fileResolver_confinesNamesToTheRoot() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("nct-fr-\(UUID().uuidString)")
        let root = base.appendingPathComponent("root")
        defer { try? FileManager.default.removeItem(at: base) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("sub"), withIntermediateDirectories: true)
        try "inside".write(to: root.appendingPathComponent("a.txt"), atomically: true, encoding: .utf8)
        try "nested".write(to: root.appendingPathComponent("sub/b.txt"), atomically: true, encoding: .utf8)
        try "secret".write(to: base.appendingPathComponent("outside.txt"), atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(
            atPath: root.appendingPathComponent("escape").path, withDestinationPath: base.appendingPathComponent("outside.txt").path)
        try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("alias").path, withDestinationPath: "a.txt")
        let resolver = try FileResolver(root: root.path)

        func status(_ name: String) -> Int {
            switch resolver.resolve(name) {
            case .success: 200
            case .failure(let refusal): refusal.status
            }
        }
        #expect(status("a.txt") == 200)
        #expect(status("sub/b.txt") == 200)
        #expect(status("./sub/../a.txt") == 403)  // any ".." is refused outright
        #expect(status("alias") == 200)  // a symlink that stays inside is fine
        #expect(status("escape") == 403)  // one that leaves the root is not
        #expect(status("../outside.txt") == 403)
        #expect(status(base.appendingPathComponent("outside.txt").path) == 403)
        try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("outdir").path, withDestinationPath: base.path)
        #expect(status("outdir/outside.txt") == 403)  // through a symlinked directory that leaves the root
        #expect(status("outdir") == 403)
        #expect(status(".") == 404)  // the root itself is a directory
        #expect(status("sub") == 404)
        #expect(status("missing.txt") == 404)
        #expect(status("") == 400)
        #expect(status("a\u{0}b") == 400)
        if case .success(let file) = resolver.resolve("a.txt") { #expect(file.size == 6) }
    }
}

/// The small-file cache: hits only while the status is exactly the one read, and only for files that had settled.
@Suite struct SmallFileCacheTests {
    static let second: Int64 = 1_000_000_000

    static func status(size: Int, inode: UInt64 = 7, changed: Int64 = 10 * second) -> FileSystem.Status {
        FileSystem.Status(kind: .regular(size: size), device: 1, inode: inode, modified: changed, changed: changed)
    }

    @Test func hitsOnlyWhileTheStatusIsUnchanged() {
        var cache = SmallFileCache()
        let old = Self.status(size: 3)
        cache.store("a", status: old, contents: Buffer([1, 2, 3]), readAt: 20 * Self.second)
        #expect(cache.contents(of: "a", current: { old }) == Buffer([1, 2, 3]))
        #expect(cache.contents(of: "b", current: { old }) == nil)
        // Rewritten in place (newer change time), replaced (other inode), or gone: a miss, and the entry is dropped.
        var rewritten = old
        rewritten.changed += 1
        #expect(cache.contents(of: "a", current: { rewritten }) == nil)
        #expect(cache.count == 0 && cache.byteCount == 0)
        cache.store("a", status: old, contents: Buffer([1, 2, 3]), readAt: 20 * Self.second)
        #expect(cache.contents(of: "a", current: { Self.status(size: 3, inode: 8) }) == nil)
        cache.store("a", status: old, contents: Buffer([1, 2, 3]), readAt: 20 * Self.second)
        #expect(cache.contents(of: "a", current: { nil }) == nil)
    }

    @Test func keepsOnlySettledFilesOfTheRightSize() {
        var cache = SmallFileCache()
        // Changed less than a second before it was read: a write in the same clock tick could go unseen.
        cache.store("fresh", status: Self.status(size: 1), contents: Buffer([9]), readAt: 10 * Self.second + 5)
        #expect(cache.count == 0)
        // Read short of its size (it changed while being read).
        cache.store("short", status: Self.status(size: 2), contents: Buffer([9]), readAt: 20 * Self.second)
        #expect(cache.count == 0)
        var directory = Self.status(size: 0)
        directory.kind = .directory
        cache.store("dir", status: directory, contents: Buffer([]), readAt: 20 * Self.second)
        #expect(cache.count == 0)
    }

    @Test func staysWithinItsBounds() {
        var cache = SmallFileCache(maxBytes: 10, maxEntries: 2)
        let readAt = 20 * Self.second
        cache.store("a", status: Self.status(size: 4), contents: Buffer([1, 1, 1, 1]), readAt: readAt)
        cache.store("b", status: Self.status(size: 4), contents: Buffer([2, 2, 2, 2]), readAt: readAt)
        #expect(cache.count == 2 && cache.byteCount == 8)
        cache.store("c", status: Self.status(size: 4), contents: Buffer([3, 3, 3, 3]), readAt: readAt)
        #expect(cache.count == 1 && cache.byteCount == 4)  // full: emptied, then c kept
        cache.store("big", status: Self.status(size: 11), contents: Buffer([UInt8](repeating: 0, count: 11)), readAt: readAt)
        #expect(cache.count == 1 && cache.byteCount == 4)  // larger than the whole cache: never kept
        cache.store("c", status: Self.status(size: 2), contents: Buffer([5, 5]), readAt: readAt)
        #expect(cache.count == 1 && cache.byteCount == 2)  // replacing an entry accounts for the old one
    }

    @Test func resolverStatusOfPlainName_seesTheEntryItself() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("nct-sfc-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: base) }
        try FileManager.default.createDirectory(at: base.appendingPathComponent("sub"), withIntermediateDirectories: true)
        try "abc".write(to: base.appendingPathComponent("a.txt"), atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: base.appendingPathComponent("link").path, withDestinationPath: "a.txt")
        let resolver = try FileResolver(root: base.path)
        let opened = try #require(try? resolver.open("a.txt").get())
        FileSystem.close(opened.descriptor)
        #expect(resolver.status(ofPlainName: "a.txt") == opened.status)
        #expect(resolver.status(ofPlainName: "link").map { $0.kind == .other } == true)  // the symlink, not a.txt
        #expect(resolver.status(ofPlainName: "sub/x") == nil)
        #expect(resolver.status(ofPlainName: "..") == nil)
        #expect(resolver.status(ofPlainName: "missing") == nil)
    }
}
