import CZlib

/// permessage-deflate settings (RFC 7692), with Node `ws`'s defaults.
public struct PerMessageDeflateOptions: Sendable {
    /// Our compressor starts every message afresh (less memory kept, worse ratio).
    public var serverNoContextTakeover = false
    /// The client's compressor starts every message afresh (asked of the client).
    public var clientNoContextTakeover = false
    /// The server's LZ77 window, 9–15 (8 is declined: zlib's raw deflate cannot honour it); nil for 15.
    public var serverMaxWindowBits: Int?
    /// The window asked of the client, 8–15; nil to leave it to the client.
    public var clientMaxWindowBits: Int?
    /// Messages shorter than this go uncompressed. `ws`: 1024.
    public var threshold = 1024
    /// zlib's compression level, 0–9. `ws` uses zlib's default (6); 1 is faster and nearly as good for chat.
    public var level = 1
    /// zlib's memLevel, 1–9: the compressor's memory (`ws`: 8, about 256 KiB per connection with a 15-bit window).
    public var memLevel = 8

    /// `ws`'s defaults: context takeover both ways, 15-bit windows, a 1 KiB threshold.
    public init() {}
}

/// The permessage-deflate state of one connection: negotiation (pure functions) and the two zlib streams, made on
/// first use so an idle connection holds none.
final class PerMessageDeflate: WebSocketMessageInflater {
    let options: PerMessageDeflateOptions
    /// Whether this end is the server (decides which parameters govern which direction).
    let isServer: Bool
    /// The window our compressor uses and whether it resets per message.
    let deflateWindowBits: Int
    let deflateResets: Bool
    /// Whether the peer's compressor resets per message (then our inflater can too).
    let inflateResets: Bool
    /// The negotiated `Sec-WebSocket-Extensions` value (the server's response).
    let responseValue: String

    private var deflater: UnsafeMutablePointer<z_stream>?
    private var inflater: UnsafeMutablePointer<z_stream>?
    private var chunk = [UInt8](repeating: 0, count: 0)

    init(options: PerMessageDeflateOptions, isServer: Bool, deflateWindowBits: Int, deflateResets: Bool,
         inflateResets: Bool, responseValue: String) {
        self.options = options
        self.isServer = isServer
        self.deflateWindowBits = deflateWindowBits
        self.deflateResets = deflateResets
        self.inflateResets = inflateResets
        self.responseValue = responseValue
    }

    deinit { release() }

    // MARK: - Negotiation (RFC 7692 §7.1)

    static let name = "permessage-deflate"

    /// The client's offer.
    static func offer(_ options: PerMessageDeflateOptions) -> WebSocketExtensionOffer {
        var offer = WebSocketExtensionOffer(name: name)
        if options.serverNoContextTakeover { offer.parameters.append(("server_no_context_takeover", nil)) }
        if options.clientNoContextTakeover { offer.parameters.append(("client_no_context_takeover", nil)) }
        if let bits = options.serverMaxWindowBits { offer.parameters.append(("server_max_window_bits", String(bits))) }
        // Without a value: "I can use any window you ask for" (zlib can, down to 9).
        offer.parameters.append(("client_max_window_bits", options.clientMaxWindowBits.map { String($0) }))
        return offer
    }

    /// The parameters of one offer or response, checked (§7: each at most once, values 8–15 where allowed); nil
    /// if malformed.
    struct Parameters {
        var serverNoContextTakeover = false
        var clientNoContextTakeover = false
        var serverMaxWindowBits: Int?
        var clientMaxWindowBits: Int?
        var clientMaxWindowBitsWithoutValue = false

        init?(_ offer: WebSocketExtensionOffer) {
            var seen = Set<String>()
            for (key, value) in offer.parameters {
                guard seen.insert(key).inserted else { return nil }
                switch key {
                case "server_no_context_takeover":
                    guard value == nil else { return nil }
                    serverNoContextTakeover = true
                case "client_no_context_takeover":
                    guard value == nil else { return nil }
                    clientNoContextTakeover = true
                case "server_max_window_bits":
                    guard let value, let bits = Self.windowBits(value) else { return nil }
                    serverMaxWindowBits = bits
                case "client_max_window_bits":
                    if let value {
                        guard let bits = Self.windowBits(value) else { return nil }
                        clientMaxWindowBits = bits
                    } else {
                        clientMaxWindowBitsWithoutValue = true
                    }
                default:
                    return nil
                }
            }
        }

        static func windowBits(_ text: String) -> Int? {
            // 1*DIGIT without leading zeros, 8...15 (§7.1.2.1).
            guard !text.hasPrefix("0"), let bits = Int(text), (8...15).contains(bits) else { return nil }
            return bits
        }
    }

    /// The server's choice among the client's offers: the first permessage-deflate offer it can honour (others
    /// are declined, §5), or nil for none.
    static func serverAccepting(_ offers: [WebSocketExtensionOffer], options: PerMessageDeflateOptions) -> PerMessageDeflate? {
        for offer in offers where offer.name == name {
            guard let asked = Parameters(offer) else { continue }
            // Our window: what the client allows and we configured; 8 cannot be honoured by raw deflate.
            var serverBits = options.serverMaxWindowBits
            if let limit = asked.serverMaxWindowBits { serverBits = min(serverBits ?? 15, limit) }
            if serverBits == 8 { continue }
            // The client's window: we may only ask if the client offered the parameter.
            var clientBits: Int?
            if asked.clientMaxWindowBits != nil || asked.clientMaxWindowBitsWithoutValue {
                clientBits = options.clientMaxWindowBits.map { min($0, asked.clientMaxWindowBits ?? 15) }
                    ?? asked.clientMaxWindowBits
            } else if options.clientMaxWindowBits != nil {
                continue
            }
            let serverResets = options.serverNoContextTakeover || asked.serverNoContextTakeover
            let clientResets = options.clientNoContextTakeover || asked.clientNoContextTakeover
            var response = WebSocketExtensionOffer(name: name)
            if serverResets { response.parameters.append(("server_no_context_takeover", nil)) }
            if clientResets { response.parameters.append(("client_no_context_takeover", nil)) }
            if let serverBits { response.parameters.append(("server_max_window_bits", String(serverBits))) }
            if let clientBits { response.parameters.append(("client_max_window_bits", String(clientBits))) }
            return PerMessageDeflate(
                options: options, isServer: true, deflateWindowBits: serverBits ?? 15, deflateResets: serverResets,
                inflateResets: clientResets, responseValue: response.headerValue)
        }
        return nil
    }

    /// The client's side: the server's response to our offer, or nil if it is not one we can accept (§7.1: the
    /// client then fails the connection).
    static func clientAccepting(_ response: WebSocketExtensionOffer, options: PerMessageDeflateOptions) -> PerMessageDeflate? {
        guard response.name == name, let answer = Parameters(response), !answer.clientMaxWindowBitsWithoutValue else {
            return nil
        }
        if let asked = options.serverMaxWindowBits, (answer.serverMaxWindowBits ?? 15) > asked { return nil }
        if options.serverNoContextTakeover && !answer.serverNoContextTakeover { return nil }
        let clientBits = answer.clientMaxWindowBits ?? options.clientMaxWindowBits ?? 15
        // zlib's raw deflate cannot keep to an 8-bit window.
        if clientBits == 8 { return nil }
        return PerMessageDeflate(
            options: options, isServer: false, deflateWindowBits: clientBits,
            deflateResets: answer.clientNoContextTakeover || options.clientNoContextTakeover,
            inflateResets: answer.serverNoContextTakeover, responseValue: response.headerValue)
    }

    // MARK: - Compression (RFC 7692 §7.2.1)

    /// One message, compressed with a sync flush and without the `00 00 ff ff` tail.
    func compress(_ payload: [UInt8]) -> [UInt8] {
        let stream: UnsafeMutablePointer<z_stream>
        if let deflater {
            stream = deflater
        } else {
            stream = Self.makeStream()
            // Raw deflate: a negative window.
            let status = CZlib_deflateInit2(stream, Int32(options.level), -Int32(deflateWindowBits), Int32(options.memLevel))
            precondition(status == Z_OK, "deflateInit2 failed: \(status)")
            deflater = stream
        }
        var output: [UInt8] = []
        output.reserveCapacity(payload.count / 2 + 64)
        if chunk.isEmpty { chunk = [UInt8](repeating: 0, count: 16 * 1024) }
        payload.withUnsafeBufferPointer { input in
            stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
            stream.pointee.avail_in = UInt32(input.count)
            chunk.withUnsafeMutableBufferPointer { out in
                repeat {
                    stream.pointee.next_out = out.baseAddress
                    stream.pointee.avail_out = UInt32(out.count)
                    _ = deflate(stream, Z_SYNC_FLUSH)
                    output.append(contentsOf: out[0..<(out.count - Int(stream.pointee.avail_out))])
                } while stream.pointee.avail_out == 0
            }
            stream.pointee.next_in = nil
        }
        // §7.2.1: remove the 4 octets 0x00 0x00 0xff 0xff the sync flush ends with.
        if output.count >= 4 && output.suffix(4).elementsEqual([0, 0, 0xFF, 0xFF]) { output.removeLast(4) }
        if output.isEmpty { output = [0x00] }  // an empty message compresses to one empty stored block (§7.2.3.6)
        if deflateResets { deflateReset(stream) }
        return output
    }

    // MARK: - Decompression (RFC 7692 §7.2.2)

    func inflate(_ bytes: UnsafeRawBufferPointer, into output: inout [UInt8], limit: Int) throws(WebSocketError) {
        try run(bytes, into: &output, limit: limit)
    }

    func finishMessage(into output: inout [UInt8], limit: Int) throws(WebSocketError) {
        // §7.2.2: append 0x00 0x00 0xff 0xff to the message's payload, then inflate.
        let tail: [UInt8] = [0, 0, 0xFF, 0xFF]
        let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: 4, alignment: 1)
        defer { raw.deallocate() }
        raw.copyBytes(from: tail)
        try run(UnsafeRawBufferPointer(raw), into: &output, limit: limit)
        if inflateResets, let inflater { inflateReset(inflater) }
    }

    private func run(_ bytes: UnsafeRawBufferPointer, into output: inout [UInt8], limit: Int) throws(WebSocketError) {
        guard bytes.count > 0 else { return }
        let stream: UnsafeMutablePointer<z_stream>
        if let inflater {
            stream = inflater
        } else {
            stream = Self.makeStream()
            // Always a 15-bit window: it inflates whatever window the peer used.
            let status = CZlib_inflateInit2(stream, -15)
            precondition(status == Z_OK, "inflateInit2 failed: \(status)")
            inflater = stream
        }
        if chunk.isEmpty { chunk = [UInt8](repeating: 0, count: 16 * 1024) }
        var failure: WebSocketError?
        chunk.withUnsafeMutableBufferPointer { out in
            stream.pointee.next_in = UnsafeMutablePointer(mutating: bytes.bindMemory(to: UInt8.self).baseAddress)
            stream.pointee.avail_in = UInt32(bytes.count)
            defer { stream.pointee.next_in = nil }
            while true {
                stream.pointee.next_out = out.baseAddress
                stream.pointee.avail_out = UInt32(out.count)
                let status = CZlib.inflate(stream, Z_SYNC_FLUSH)
                let produced = out.count - Int(stream.pointee.avail_out)
                // The limit is checked per 16 KiB of output: a deflate bomb stops here, its memory bounded.
                if produced > limit - output.count {
                    failure = .messageTooBig(limit)
                    return
                }
                output.append(contentsOf: out[0..<produced])
                switch status {
                case Z_OK:
                    if stream.pointee.avail_in == 0 && stream.pointee.avail_out > 0 { return }
                case Z_STREAM_END:
                    // The peer ended its deflate stream (a final block): the next message starts a new one.
                    inflateReset(stream)
                    if stream.pointee.avail_in == 0 { return }
                case Z_BUF_ERROR:
                    return  // no progress possible: all input consumed
                default:
                    failure = WebSocketError(
                        closeCode: WebSocketCloseCode.invalidPayload, code: "Z_DATA_ERROR",
                        message: "invalid compressed data")
                    return
                }
            }
        }
        if let failure { throw failure }
    }

    // MARK: - Memory

    private static func makeStream() -> UnsafeMutablePointer<z_stream> {
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        return stream
    }

    /// Frees the zlib streams (a closed connection keeps none).
    func release() {
        if let deflater {
            deflateEnd(deflater)
            deflater.deallocate()
            self.deflater = nil
        }
        if let inflater {
            inflateEnd(inflater)
            inflater.deallocate()
            self.inflater = nil
        }
        chunk = []
    }
}
