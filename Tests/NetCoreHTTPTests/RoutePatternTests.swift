import Testing

@testable import NetCoreHTTP

/// `RoutePattern`: pure matching of `/user/:id`-style patterns.
@Suite struct RoutePatternTests {
    static func pattern(_ text: String) throws -> RoutePattern { try RoutePattern(text) }

    @Test func parameter_capturesOneSegment() throws {
        let route = try Self.pattern("/user/:id")
        #expect(route.match("/user/42") == ["id": "42"])
        #expect(route.match("/user/") == nil)
        #expect(route.match("/user") == nil)
        #expect(route.match("/user/42/posts") == nil)
        #expect(route.match("/users/42") == nil)
        #expect(route.parameterNames == ["id"])
        #expect(route.matches("/user/x") && !route.matches("/"))
    }

    @Test func severalParameters_andLiterals() throws {
        let route = try Self.pattern("/user/:userId/posts/:post_id")
        #expect(route.match("/user/7/posts/99") == ["userId": "7", "post_id": "99"])
        #expect(route.match("/user/7/comments/99") == nil)
        #expect(route.parameterNames == ["userId", "post_id"])
    }

    @Test func literals_matchExactly_caseSensitively() throws {
        let route = try Self.pattern("/about")
        #expect(route.match("/about") == [:])
        #expect(route.match("/About") == nil)
        #expect(route.match("/about.html") == nil)
        #expect(route.match("/abou") == nil)
        #expect(try Self.pattern("/café").match("/caf%C3%A9") == [:])
        #expect(try Self.pattern("/caf%C3%A9").match("/café") == [:])
        #expect(try Self.pattern("/a%20b").match("/a%20b") == [:])
        #expect(try Self.pattern("/100%").match("/100%25") == [:])
    }

    @Test func root() throws {
        let root = try Self.pattern("/")
        #expect(root.match("/") == [:])
        #expect(root.match("") == nil)
        #expect(root.match("/a") == nil)
        #expect(root.match("/?x=1") == [:])
    }

    /// One trailing slash is ignored on both sides, as Express does by default (`strict: false`).
    @Test func trailingSlash_isIgnoredOnce() throws {
        #expect(try Self.pattern("/user/:id").match("/user/42/") == ["id": "42"])
        #expect(try Self.pattern("/user/:id/").match("/user/42") == ["id": "42"])
        #expect(try Self.pattern("/user/:id").match("/user/42//") == nil)
        #expect(try Self.pattern("/user/:id").match("/user//42") == nil)
        #expect(try Self.pattern("/about/").match("/about/") == [:])
    }

    @Test func parameters_arePercentDecoded_badEncodingDoesNotMatch() throws {
        let route = try Self.pattern("/user/:name")
        #expect(route.match("/user/%ED%99%8D%EA%B8%B8%EB%8F%99") == ["name": "홍길동"])
        #expect(route.match("/user/a%2Fb") == ["name": "a/b"])
        #expect(route.match("/user/a+b") == ["name": "a+b"])
        #expect(route.match("/user/홍길동") == ["name": "홍길동"])
        for bad in ["%zz", "%", "abc%", "%E0%A4%A", "%FF", "%C0%80", "%ED%A0%80"] {
            #expect(route.match("/user/" + bad) == nil, "\(bad)")
        }
    }

    @Test func queryAndFragment_areIgnored() throws {
        let route = try Self.pattern("/user/:id")
        #expect(route.match("/user/42?tab=posts") == ["id": "42"])
        #expect(route.match("/user/42#top") == ["id": "42"])
        #expect(route.match("/user/?id=42") == nil)
    }

    @Test func wildcard_matchesTheRest() throws {
        let files = try Self.pattern("/files/*")
        #expect(files.match("/files/a.txt") == ["*": "a.txt"])
        #expect(files.match("/files/a/b/c.txt") == ["*": "a/b/c.txt"])
        #expect(files.match("/files/") == ["*": ""])
        #expect(files.match("/files") == ["*": ""])
        #expect(files.match("/files/%ED%99%8D/x%20y") == ["*": "홍/x y"])
        #expect(files.match("/files/%zz") == nil)
        #expect(files.match("/filesx/a") == nil)
        #expect(files.parameterNames == ["*"])
        let everything = try Self.pattern("/*")
        #expect(everything.match("/") == ["*": ""])
        #expect(everything.match("/any/thing") == ["*": "any/thing"])
        #expect(try Self.pattern("/u/:id/*").match("/u/7/a/b") == ["id": "7", "*": "a/b"])
    }

    @Test func pathsNotStartingWithSlash_doNotMatch() throws {
        let route = try Self.pattern("/*")
        #expect(route.match("*") == nil)
        #expect(route.match("http://example.com/") == nil)
        #expect(route.match("") == nil)
    }

    @Test(arguments: [
        ("", RoutePatternError.mustStartWithSlash("")),
        ("user/:id", .mustStartWithSlash("user/:id")),
        ("/user/:", .invalidParameterName("/user/:", "")),
        ("/user/:a-b", .invalidParameterName("/user/:a-b", "a-b")),
        ("/user/:id?", .invalidParameterName("/user/:id?", "id?")),
        ("/:a/:a", .duplicateParameterName("/:a/:a", "a")),
        ("/*/x", .wildcardNotLast("/*/x")),
        ("/files*", .wildcardNotLast("/files*")),
        ("/*/*", .wildcardNotLast("/*/*")),
    ])
    func malformedPattern_throws(_ text: String, _ expected: RoutePatternError) {
        #expect(throws: expected) { try RoutePattern(text) }
        #expect(expected.description.contains("route pattern"))
    }

    @Test func stringLiteral_andEquality() throws {
        let literal: RoutePattern = "/user/:id"
        #expect(literal == (try Self.pattern("/user/:id")))
        #expect(literal.description == "/user/:id")
        #expect(literal.match("/user/1") == ["id": "1"])
    }

    /// Random paths against a few patterns: never a crash, and every match agrees with a direct re-check.
    @Test func randomPaths_neverCrash() throws {
        var generator = SplitMix64(seed: 3986)
        let routes = try ["/", "/user/:id", "/files/*", "/a/:b/c", "/*"].map(Self.pattern)
        let alphabet = Array("/a%bcuser:idfiles?#2F%zz홍".map(String.init)) + ["%ED%99%8D", "%", "//", "\u{0}"]
        for _ in 0..<20_000 {
            let length = Int(generator.next() % 10)
            let path = (0..<length).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }.joined()
            for route in routes {
                if let parameters = route.match(path) {
                    #expect(Set(parameters.keys) == Set(route.parameterNames), "\(route) \(path)")
                }
            }
        }
    }
}
