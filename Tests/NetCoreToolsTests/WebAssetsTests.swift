import Foundation
import Testing
import NetCoreTools

/// The embedded front-end must be byte for byte the files in WebAssets/files/ (the generator's --check guards the
/// Swift file; this guards the literal encoding itself: a raw string that dropped or changed a byte would show here).
@Suite struct WebAssetsTests {
    static let assetsFolder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/NetCoreTools/WebAssets/files")

    static let expectedTypes = [
        "html": "text/html; charset=utf-8",
        "css": "text/css; charset=utf-8",
        "js": "text/javascript; charset=utf-8",
    ]

    @Test func everyFileIsEmbeddedByteForByteWithItsContentType() throws {
        let onDisk = try FileManager.default.contentsOfDirectory(atPath: Self.assetsFolder.path)
            .filter { $0 != "README.md" }.sorted()
        #expect(onDisk == WebAssets.names)
        #expect(onDisk.contains("restFront.html") && onDisk.contains("cookie2.html"))
        for name in onDisk {
            let bytes = try [UInt8](Data(contentsOf: Self.assetsFolder.appendingPathComponent(name)))
            let asset = try #require(WebAssets.file(named: name), "\(name) is not embedded")
            let identical = asset.bytes == bytes // not #expect(a == b): it would print both arrays whole
            #expect(identical, "\(name) (\(asset.bytes.count) bytes) differs from the file on disk (\(bytes.count))")
            let fileExtension = String(name.split(separator: ".").last ?? "")
            #expect(asset.contentType == Self.expectedTypes[fileExtension], "\(name)")
        }
    }

    @Test func otherNamesAreNotFound() {
        for name in ["", "README.md", "restfront.js", "/restFront.js", "./restFront.js", "../restFront.js",
                     "files/restFront.js", "restFront.js/", "restFront.js%00", "WebAssets.swift"] {
            #expect(WebAssets.file(named: name) == nil, "\(name)")
        }
    }

    @Test func pagesHaveTheElementsTheServersAndBrowserTestsRelyOn() throws {
        func text(_ name: String) throws -> String {
            String(decoding: try #require(WebAssets.file(named: name)).bytes, as: UTF8.self)
        }
        let front = try text("restFront.html")
        for needle in [#"id="form""#, #"id="username""#, #"id="list""#, #"id="error""#, "./restFront.js",
                       "./restFront.css"] {
            #expect(front.contains(needle), "restFront.html lacks \(needle)")
        }
        // No external resource at all: the machines that run these pages have no internet.
        for name in WebAssets.names {
            let page = try text(name)
            #expect(!page.contains("http://") && !page.contains("https://"), "\(name)")
        }
        let login = try text("cookie2.html")
        #expect(login.contains(#"action="/login""#) && login.contains(#"name="name""#) && login.contains("로그인"))
        #expect(try text("about.html").contains("소개 페이지입니다."))
    }
}
