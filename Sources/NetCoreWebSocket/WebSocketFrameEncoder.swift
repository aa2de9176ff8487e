/// Builds frames (RFC 6455 §5.2). Pure: the caller supplies the masking key (a client must mask every frame with a
/// fresh key from a strong source, §5.3; a server never masks).
public enum WebSocketFrameEncoder {
    /// The header of a frame carrying `payloadLength` bytes: FIN, RSV1 (set on the first frame of a compressed
    /// message), the opcode, the shortest length encoding, and the masking key if any.
    public static func header(
        opcode: WebSocketOpcode, payloadLength: Int, fin: Bool = true, rsv1: Bool = false, maskingKey: UInt32? = nil
    ) -> [UInt8] {
        var header: [UInt8] = []
        header.reserveCapacity(14)
        header.append((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode.rawValue)
        let maskBit: UInt8 = maskingKey == nil ? 0 : 0x80
        if payloadLength < 126 {
            header.append(maskBit | UInt8(payloadLength))
        } else if payloadLength <= 0xFFFF {
            header.append(maskBit | 126)
            header.append(UInt8(payloadLength >> 8))
            header.append(UInt8(payloadLength & 0xFF))
        } else {
            header.append(maskBit | 127)
            for shift in stride(from: 56, through: 0, by: -8) { header.append(UInt8((payloadLength >> shift) & 0xFF)) }
        }
        if let maskingKey {
            for shift in stride(from: 24, through: 0, by: -8) { header.append(UInt8((maskingKey >> UInt32(shift)) & 0xFF)) }
        }
        return header
    }

    /// A whole frame: the header followed by `payload`, masked with `maskingKey` if given.
    public static func frame(
        opcode: WebSocketOpcode, payload: [UInt8], fin: Bool = true, rsv1: Bool = false, maskingKey: UInt32? = nil
    ) -> [UInt8] {
        var frame = header(opcode: opcode, payloadLength: payload.count, fin: fin, rsv1: rsv1, maskingKey: maskingKey)
        let start = frame.count
        frame += payload
        if let maskingKey { mask(&frame, from: start, key: maskingKey, offset: 0) }
        return frame
    }

    /// The payload of a close frame: the code (big-endian) and the reason, cut to fit 125 bytes on a character
    /// boundary; empty for `nil` (no code: the peer reports 1005).
    public static func closePayload(code: UInt16?, reason: String) -> [UInt8] {
        guard let code else { return [] }
        var payload: [UInt8] = [UInt8(code >> 8), UInt8(code & 0xFF)]
        var reasonBytes = 0
        for scalar in reason.unicodeScalars {
            let length = String(scalar).utf8.count
            guard reasonBytes + length <= 123 else { break }
            reasonBytes += length
        }
        payload += reason.utf8.prefix(reasonBytes)
        return payload
    }

    /// XORs `bytes[from...]` with `key` (the key's first byte is its most significant), starting at key byte
    /// `offset` (§5.3: byte i of the payload is masked with key byte i mod 4). Masking twice unmasks.
    static func mask(_ bytes: inout [UInt8], from start: Int, key: UInt32, offset: Int) {
        bytes.withUnsafeMutableBytes { raw in
            mask(UnsafeMutableRawBufferPointer(rebasing: raw[start...]), key: key, offset: offset)
        }
    }

    static func mask(_ raw: UnsafeMutableRawBufferPointer, key: UInt32, offset: Int) {
        let count = raw.count
        guard count > 0 else { return }
        // The key's bytes in wire order, rotated so that byte 0 of `raw` meets key byte `offset`; no allocation.
        let phase = UInt32(offset & 3)
        let rotatedKey = phase == 0 ? key : key << (8 * phase) | key >> (32 - 8 * phase)
        let keyBytes = (
            UInt8(rotatedKey >> 24), UInt8((rotatedKey >> 16) & 0xFF), UInt8((rotatedKey >> 8) & 0xFF),
            UInt8(rotatedKey & 0xFF)
        )
        // The same four bytes as a word in memory order, doubled: the key repeats every four bytes.
        let word32 = withUnsafeBytes(of: keyBytes) { $0.loadUnaligned(as: UInt32.self) }
        let word = UInt64(word32) | UInt64(word32) << 32
        var index = 0
        while index + 8 <= count {
            let value = raw.loadUnaligned(fromByteOffset: index, as: UInt64.self) ^ word
            raw.storeBytes(of: value, toByteOffset: index, as: UInt64.self)
            index += 8
        }
        while index < count {
            let shift = UInt32(24 - 8 * (index & 3))
            raw[index] ^= UInt8((rotatedKey >> shift) & 0xFF)
            index += 1
        }
    }
}
