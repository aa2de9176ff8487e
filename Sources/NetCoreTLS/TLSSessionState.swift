/// The life of one TLS session, as one value with named transitions (no pile of booleans).
///
/// ```
/// handshaking ──handshakeCompleted──▶ open ──sentCloseNotify──────▶ closing(.sent)     ──receivedCloseNotify──▶ closed
///      │                                │   ──receivedCloseNotify──▶ closing(.received) ──sentCloseNotify──────▶ closed
///      └───────────── fail (any state but closed) ──────────────▶ failed
/// ```
/// `closed` is also where `transportClosed` (the socket destroyed) leads from any state but `failed`.
package enum TLSSessionState: Equatable, Sendable {
    /// Which close_notify alert has gone by when one side has closed its TLS stream.
    package enum CloseNotify: Equatable, Sendable {
        case sent
        case received
    }

    case handshaking
    case open
    case closing(CloseNotify)
    case closed
    case failed

    /// Application data may be written (the peer may still read it).
    package var canSend: Bool { self == .open || self == .closing(.received) }
    /// Application data may still arrive.
    package var canReceive: Bool { self == .open || self == .closing(.sent) }

    package mutating func handshakeCompleted() {
        guard self == .handshaking else { return }
        self = .open
    }

    package mutating func sentCloseNotify() {
        switch self {
        case .open: self = .closing(.sent)
        case .closing(.received): self = .closed
        default: break
        }
    }

    package mutating func receivedCloseNotify() {
        switch self {
        case .open: self = .closing(.received)
        case .closing(.sent): self = .closed
        default: break
        }
    }

    package mutating func fail() {
        guard self != .closed else { return }
        self = .failed
    }

    package mutating func transportClosed() {
        guard self != .failed else { return }
        self = .closed
    }
}
