/// Carries a loop-confined value across a `@Sendable` boundary; every access checks that it happens
/// on the owning loop's thread (NIO's `NIOLoopBound`).
public struct LoopBound<Value>: @unchecked Sendable {
    // @unchecked: the value is only ever read or written on `loop`'s thread, which `value` enforces.
    private let box: Box
    /// The loop whose thread owns the value.
    public let loop: EventLoop

    private final class Box {
        var value: Value
        init(_ value: Value) { self.value = value }
    }

    /// Wraps `value`; call on `loop`'s thread.
    public init(_ value: Value, loop: EventLoop) {
        precondition(loop.inLoop, "LoopBound created off its loop's thread")
        self.box = Box(value)
        self.loop = loop
    }

    /// The value; traps when touched off the loop thread.
    public var value: Value {
        get {
            precondition(loop.inLoop, "LoopBound read off its loop's thread")
            return box.value
        }
        nonmutating set {
            precondition(loop.inLoop, "LoopBound written off its loop's thread")
            box.value = newValue
        }
    }
}
