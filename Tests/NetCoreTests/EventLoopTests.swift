import Foundation
import Testing
@testable import NetCore

@Suite struct EventLoopTests {
    @Test func run_returnsImmediately_whenNothingIsScheduled() throws {
        let loop = try EventLoop()
        var watchdogFired = false
        // Unref'd, so it cannot keep the loop alive; it only ends a loop that wrongly blocks.
        loop.setTimeout(10_000) {
            watchdogFired = true
            loop.stop()
        }.unref()
        loop.run()
        #expect(!watchdogFired, "run() blocked with nothing referenced left")
    }

    @Test func phases_runTicksBeforeImmediatesBeforeLaterTimers() {
        var order: [String] = []
        runLoop { loop in
            loop.setTimeout(5) { order.append("timeout") }
            loop.setImmediate {
                order.append("immediate")
                loop.nextTick { order.append("tick-from-immediate") }
            }
            loop.nextTick {
                order.append("tick1")
                loop.nextTick { order.append("tick-nested") }
            }
            loop.nextTick { order.append("tick2") }
        }
        #expect(order == ["tick1", "tick2", "tick-nested", "immediate", "tick-from-immediate", "timeout"])
    }

    /// Records the codes it is called with, into the test's shared order.
    final class CodeRecorder: TickHandler {
        let record: (String) -> Void
        init(_ record: @escaping (String) -> Void) { self.record = record }
        func handleTick(_ code: Int) { record("handler\(code)") }
    }

    @Test func handlerTicks_runInTheSameQueueAndOrderAsClosureTicks() {
        var order: [String] = []
        runLoop { loop in
            let recorder = CodeRecorder { order.append($0) }
            loop.nextTick { order.append("tick1") }
            loop.nextTick(recorder, code: 7)
            loop.nextTick {
                order.append("tick2")
                loop.nextTick(recorder, code: 9)
            }
            loop.nextTick(recorder, code: 8)
            loop.setImmediate { order.append("immediate") }
        }
        #expect(order == ["tick1", "handler7", "tick2", "handler8", "handler9", "immediate"])
    }

    @Test func timers_fireInDeadlineThenSchedulingOrder() {
        var order: [Int] = []
        runLoop { loop in
            loop.setTimeout(30) { order.append(3) }
            loop.setTimeout(10) { order.append(1) }
            loop.setTimeout(10) { order.append(2) }
        }
        #expect(order == [1, 2, 3])
    }

    @Test func timer_doesNotFire_whenCancelled() {
        var fired = false
        runLoop { loop in
            let timer = loop.setTimeout(10) { fired = true }
            loop.nextTick { timer.cancel() }
        }
        #expect(!fired)
    }

    @Test func interval_repeatsUntilCancelled() {
        var count = 0
        runLoop { loop in
            var timer: Timeout?
            timer = loop.setInterval(2) {
                count += 1
                if count == 3 { timer?.cancel() }
            }
        }
        #expect(count == 3)
    }

    @Test func run_returns_whenOnlyUnrefTimersRemain() throws {
        let loop = try EventLoop()
        var fired = false
        loop.setTimeout(60_000) { fired = true }.unref()
        let start = Date()
        loop.run()
        #expect(!fired)
        #expect(Date().timeIntervalSince(start) < 30)
    }

    @Test func timer_keepsLoopAlive_afterRefAgain() {
        var fired = false
        runLoop { loop in
            let timer = loop.setTimeout(5) { fired = true }
            timer.unref()
            timer.ref()
        }
        #expect(fired)
    }

    @Test func execute_runsWorkFromOtherThreadsOnTheLoop() throws {
        let loop = try EventLoop()
        let received = LoopBound([Int](), loop: loop)
        let onLoop = LoopBound(true, loop: loop)
        loop.beginRequest()
        for index in 0..<4 {
            Thread.detachNewThread {
                loop.execute {
                    onLoop.value = onLoop.value && loop.inLoop
                    received.value.append(index)
                    if received.value.count == 4 { loop.endRequest() }
                }
            }
        }
        var timedOut = false
        loop.setTimeout(10_000) { timedOut = true; loop.stop() }.unref()
        loop.run()
        #expect(!timedOut)
        #expect(received.value.sorted() == [0, 1, 2, 3])
        #expect(onLoop.value)
    }

    @Test func now_isFresh_inIOCallbacksAfterALongWait() {
        var elapsed: UInt64 = 0
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let writer = fds[1]
        runLoop { loop in
            let started = loop.now
            let stream = ReadStream(descriptor: fds[0], closesDescriptor: true, loop: loop)
            stream.on(.data) { _ in
                elapsed = loop.now - started
                stream.destroy()
            }
            Thread.detachNewThread {
                usleep(200_000)  // the loop sleeps in epoll_wait meanwhile; this is the delay under test
                _ = write(writer, "x", 1)
                close(writer)
            }
        }
        #expect(elapsed >= 190, "loop.now in the callback lagged: \(elapsed) ms after a 200 ms wait")
    }

    @Test func onSignal_deliversSignalAsLoopEvent() {
        var got = false
        runLoop { loop in
            var watcher: SignalWatcher?
            watcher = loop.onSignal(SIGUSR2) {
                got = true
                watcher?.cancel()
            }
            watcher?.ref()
            // kill, not raise: the test runner's threads may block signals, and any thread can take it for the pipe.
            loop.nextTick { kill(getpid(), SIGUSR2) }
        }
        #expect(got)
    }

    @Test func signalWatcher_doesNotKeepLoopAlive_byDefault() throws {
        let loop = try EventLoop()
        let watcher = loop.onSignal(SIGUSR1) {}
        var watchdogFired = false
        loop.setTimeout(10_000) {
            watchdogFired = true
            loop.stop()
        }.unref()
        loop.run()  // returns by itself: the watcher is unref'd
        withExtendedLifetime(loop) { watcher.cancel() }
        #expect(!watchdogFired, "an unref'd signal watcher kept the loop alive")
    }
}

@Suite struct TimerHeapTests {
    final class Item: TimerHeapElement {
        let id: Int
        var heapIndex = -1
        init(_ id: Int) { self.id = id }
    }

    @Test func popFirst_returnsEntriesInDeadlineThenSequenceOrder() {
        var heap = TimerHeap<Item>()
        var generator = SystemRandomNumberGenerator()
        var expected: [(UInt64, UInt64)] = []
        for sequence in 0..<500 {
            let deadline = UInt64.random(in: 0..<50, using: &generator)
            heap.insert(.init(deadline: deadline, sequence: UInt64(sequence), element: Item(sequence)))
            expected.append((deadline, UInt64(sequence)))
        }
        expected.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
        var popped: [(UInt64, UInt64)] = []
        while let entry = heap.popFirst() { popped.append((entry.deadline, entry.sequence)) }
        #expect(popped.map(\.0) == expected.map(\.0))
        #expect(popped.map(\.1) == expected.map(\.1))
    }

    /// Cancelled timers leave the heap at once (they used to stay, with their captures, until their deadline).
    @Test func remove_takesAnyElementOutAndKeepsTheOrderOfTheRest() {
        var heap = TimerHeap<Item>()
        var generator = SystemRandomNumberGenerator()
        var items: [(item: Item, deadline: UInt64)] = []
        for id in 0..<400 {
            let item = Item(id)
            let deadline = UInt64.random(in: 0..<60, using: &generator)
            heap.insert(.init(deadline: deadline, sequence: UInt64(id), element: item))
            items.append((item, deadline))
        }
        items.shuffle(using: &generator)
        let removed = items.prefix(250)
        for (item, _) in removed {
            let wasThere = heap.remove(item)
            #expect(wasThere)
        }
        for (item, _) in removed {
            #expect(item.heapIndex == -1)
            let again = heap.remove(item)
            #expect(!again, "removed twice")
        }
        #expect(heap.count == 150)
        let expected = items.dropFirst(250).sorted { ($0.deadline, $0.item.id) < ($1.deadline, $1.item.id) }
        var popped: [Int] = []
        while let entry = heap.popFirst() { popped.append(entry.element.id) }
        #expect(popped == expected.map(\.item.id))
    }

    @Test func cancel_releasesTheCallbacksCaptures_beforeTheDeadline() throws {
        final class Token {}
        let loop = try EventLoop()
        weak var captured: Token?
        do {
            let token = Token()
            captured = token
            let timer = loop.setTimeout(60_000) { _ = token }
            timer.cancel()
        }
        #expect(captured == nil, "a cancelled 60 s timer still holds its callback")
        // Refreshing many times keeps one entry, not one per refresh.
        let timer = loop.setTimeout(60_000) {}
        for _ in 0..<1000 { timer.refresh() }
        #expect(loop.pendingTimerCount == 1)
        timer.cancel()
        #expect(loop.pendingTimerCount == 0)
    }
}
