/// What a `TimerHeap` holds: an object that remembers its place in the heap, so a cancelled timer is removed at once
/// in O(log n) instead of lingering, with everything its callback captured, until its deadline (libuv's heap_remove).
protocol TimerHeapElement: AnyObject {
    /// The element's index in the heap's storage; -1 when it is in no heap. Maintained by the heap only.
    var heapIndex: Int { get set }
}

/// A binary min-heap of timer entries ordered by (deadline, sequence), so equal deadlines fire in
/// the order they were scheduled (STYLE.md §2.8).
struct TimerHeap<Element: TimerHeapElement> {
    struct Entry {
        var deadline: UInt64
        var sequence: UInt64
        var element: Element

        func precedes(_ other: Entry) -> Bool {
            deadline != other.deadline ? deadline < other.deadline : sequence < other.sequence
        }
    }

    private(set) var entries: [Entry] = []

    var isEmpty: Bool { entries.isEmpty }
    var count: Int { entries.count }
    var first: Entry? { entries.first }

    /// Adds `entry`; its element must not be in a heap already (remove it first).
    mutating func insert(_ entry: Entry) {
        precondition(entry.element.heapIndex < 0, "a timer is in the heap at most once")
        entries.append(entry)
        entry.element.heapIndex = entries.count - 1
        siftUp(entries.count - 1)
    }

    mutating func popFirst() -> Entry? {
        entries.isEmpty ? nil : remove(at: 0)
    }

    /// Removes `element` if it is in this heap; returns whether it was.
    @discardableResult
    mutating func remove(_ element: Element) -> Bool {
        let index = element.heapIndex
        guard index >= 0, index < entries.count, entries[index].element === element else { return false }
        _ = remove(at: index)
        return true
    }

    private mutating func remove(at index: Int) -> Entry {
        let last = entries.count - 1
        if index != last { swap(index, last) }
        let removed = entries.removeLast()
        removed.element.heapIndex = -1
        if index < entries.count {
            siftDown(index)
            siftUp(index)
        }
        return removed
    }

    private mutating func swap(_ a: Int, _ b: Int) {
        entries.swapAt(a, b)
        entries[a].element.heapIndex = a
        entries[b].element.heapIndex = b
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard entries[child].precedes(entries[parent]) else { break }
            swap(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < entries.count && entries[left].precedes(entries[smallest]) { smallest = left }
            if right < entries.count && entries[right].precedes(entries[smallest]) { smallest = right }
            if smallest == parent { return }
            swap(parent, smallest)
            parent = smallest
        }
    }
}
