#if os(Linux)
    @preconcurrency import Glibc
    import CNetCoreShims

    /// Level-triggered epoll with an eventfd for cross-thread wake-ups.
    final class EpollPoller: Poller {
        private let epollFD: FileDescriptor
        private let wakeupFD: FileDescriptor
        private var events: UnsafeMutableBufferPointer<epoll_event>
        private static let wakeupToken = UInt64.max

        init() throws(SystemError) {
            let epfd = try syscallChecked("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) }
            let efd: Int32
            do {
                efd = try syscallChecked("eventfd") { eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK)) }
            } catch {
                Posix.close(epfd)
                throw error
            }
            epollFD = FileDescriptor(epfd)
            wakeupFD = FileDescriptor(efd)
            // One array for the loop's lifetime, large enough that a busy server drains many events per wait.
            events = .allocate(capacity: 1024)
            events.initialize(repeating: epoll_event())
            do {
                try control(EPOLL_CTL_ADD, fd: efd, token: Self.wakeupToken, interest: .read)
            } catch {
                close()
                throw error
            }
        }

        private func control(_ op: Int32, fd: Int32, token: UInt64, interest: Interest) throws(SystemError) {
            var event = epoll_event()
            // No EPOLLRDHUP: read() returning 0 already tells us, and level-triggered RDHUP would spin a paused socket.
            var bits: UInt32 = 0
            if interest.contains(.read) { bits |= EPOLLIN.rawValue }
            if interest.contains(.write) { bits |= EPOLLOUT.rawValue }
            event.events = bits
            event.data.u64 = token
            try syscallChecked("epoll_ctl") { epoll_ctl(epollFD.rawValue, op, fd, &event) }
        }

        func register(fd: Int32, token: UInt64, interest: Interest) throws(SystemError) {
            try control(EPOLL_CTL_ADD, fd: fd, token: token, interest: interest)
        }

        func modify(fd: Int32, token: UInt64, interest: Interest) throws(SystemError) {
            try control(EPOLL_CTL_MOD, fd: fd, token: token, interest: interest)
        }

        func unregister(fd: Int32) {
            var event = epoll_event()
            // ENOENT/EBADF here mean the descriptor already left the set; nothing to undo.
            _ = epoll_ctl(epollFD.rawValue, EPOLL_CTL_DEL, fd, &event)
        }

        func wait(timeoutMilliseconds: Int32, _ onReady: (UInt64, ReadyEvents) -> Void) throws(SystemError) {
            let count: Int32
            switch try syscall(
                "epoll_wait",
                { epoll_wait(epollFD.rawValue, events.baseAddress, Int32(events.count), timeoutMilliseconds) }
            ) {
            case .processed(let n): count = n
            case .wouldBlock: return
            }
            for index in 0..<Int(count) {
                let event = events[index]
                let token = event.data.u64
                if token == Self.wakeupToken {
                    var value: UInt64 = 0
                    _ = Glibc.read(wakeupFD.rawValue, &value, 8)
                    continue
                }
                var ready: ReadyEvents = []
                let bits = event.events
                if bits & EPOLLIN.rawValue != 0 { ready.insert(.read) }
                if bits & EPOLLOUT.rawValue != 0 { ready.insert(.write) }
                if bits & EPOLLRDHUP.rawValue != 0 { ready.insert(.readEOF) }
                if bits & EPOLLHUP.rawValue != 0 { ready.insert(.hangup) }
                if bits & EPOLLERR.rawValue != 0 { ready.insert(.error) }
                onReady(token, ready)
            }
        }

        func wakeup() {
            var one: UInt64 = 1
            // EAGAIN means the counter is already non-zero: a wake-up is pending, which is all we need.
            _ = Glibc.write(wakeupFD.rawValue, &one, 8)
        }

        func close() {
            epollFD.close()
            wakeupFD.close()
            if events.count > 0 {
                events.deallocate()
                events = UnsafeMutableBufferPointer(start: nil, count: 0)
            }
        }
    }

    typealias PlatformPoller = EpollPoller
#endif
