/// A fixed-size log-linear latency histogram (HdrHistogram's layout, simplified): values below 128 get their own
/// bucket; above that every power of two is split into 64 buckets, so a reported percentile is within 0.8 % of the
/// true sample. Recording is an index computation and one increment: no per-sample storage, no growth.
struct Histogram: Sendable {
    private static let linear = 128
    private static let perOctave = 64
    static let bucketCount = linear + 57 * perOctave

    private(set) var counts = [UInt64](repeating: 0, count: bucketCount)
    private(set) var total: UInt64 = 0
    private(set) var maxValue: UInt64 = 0
    private(set) var minValue: UInt64 = .max

    init() {}

    /// What a `HistogramRecorder` collected.
    init(_ recorder: HistogramRecorder) {
        counts = Array(UnsafeBufferPointer(start: recorder.counts, count: Self.bucketCount))
        total = recorder.total
        maxValue = recorder.maxValue
        minValue = recorder.minValue
    }

    @inline(__always)
    static func index(of value: UInt64) -> Int {
        if value < UInt64(linear) { return Int(value) }
        let msb = 63 - value.leadingZeroBitCount  // ≥ 7
        let shift = msb - 6
        return linear + (shift - 1) * perOctave + Int(value >> UInt64(shift)) - perOctave
    }

    /// The smallest value that falls in bucket `index`, and the bucket's width.
    static func bounds(of index: Int) -> (low: UInt64, width: UInt64) {
        if index < linear { return (UInt64(index), 1) }
        let offset = index - linear
        let shift = offset / perOctave + 1
        let mantissa = UInt64(offset % perOctave + perOctave)
        return (mantissa << UInt64(shift), 1 << UInt64(shift))
    }

    @inline(__always)
    mutating func record(_ value: UInt64) {
        counts[Self.index(of: value)] &+= 1
        total &+= 1
        if value > maxValue { maxValue = value }
        if value < minValue { minValue = value }
    }

    mutating func merge(_ other: Histogram) {
        for index in 0..<Self.bucketCount { counts[index] &+= other.counts[index] }
        total &+= other.total
        maxValue = max(maxValue, other.maxValue)
        minValue = min(minValue, other.minValue)
    }

    /// The value at quantile `q` (0...1): the middle of the bucket holding the ceil(q·n)-th smallest sample,
    /// clamped to the observed minimum and maximum. 0 when empty.
    func value(atQuantile q: Double) -> UInt64 {
        guard total > 0 else { return 0 }
        let rank = max(1, UInt64((q * Double(total)).rounded(.up)))
        var seen: UInt64 = 0
        for index in 0..<Self.bucketCount {
            seen &+= counts[index]
            if seen >= rank {
                let (low, width) = Self.bounds(of: index)
                let middle = low + (width - 1) / 2
                return min(max(middle, minValue), maxValue)
            }
        }
        return maxValue
    }

    var mean: Double {
        guard total > 0 else { return 0 }
        var sum = 0.0
        for index in 0..<Self.bucketCount where counts[index] > 0 {
            let (low, width) = Self.bounds(of: index)
            sum += Double(counts[index]) * (Double(low) + Double(width - 1) / 2)
        }
        return sum / Double(total)
    }
}

/// The recording side of `Histogram` for hot loops: the buckets live behind a pointer, so a sample costs an index
/// computation and an increment — no copy-on-write uniqueness check, no exclusivity check. Call `deallocate()`
/// once done.
struct HistogramRecorder {
    let counts: UnsafeMutablePointer<UInt64>
    private(set) var total: UInt64 = 0
    private(set) var maxValue: UInt64 = 0
    private(set) var minValue: UInt64 = .max

    init() {
        counts = .allocate(capacity: Histogram.bucketCount)
        counts.initialize(repeating: 0, count: Histogram.bucketCount)
    }

    @inline(__always)
    mutating func record(_ value: UInt64) {
        counts[Histogram.index(of: value)] &+= 1
        total &+= 1
        if value > maxValue { maxValue = value }
        if value < minValue { minValue = value }
    }

    func deallocate() { counts.deallocate() }
}
