import Foundation

/// `body(i)` for every `i` in `0..<count`, spread over all cores; the results in index order.
func concurrentMap<T>(count: Int, _ body: @Sendable (Int) -> T) -> [T] {
    concurrentMap(count: count, scratch: {}) { i, _ in body(i) }
}

/// `concurrentMap` where each worker thread keeps a `scratch` value (a read buffer) across
/// the indices it takes: at most one per core, not one per index. Workers take the next index as
/// they finish one, so a few large items do not leave a core idle.
func concurrentMap<T, Scratch>(
    count: Int, scratch: @Sendable () -> Scratch, _ body: @Sendable (Int, inout Scratch) -> T
) -> [T] {
    let slots = Slots<T>(count: count)
    let workers = min(count, ProcessInfo.processInfo.activeProcessorCount)
    DispatchQueue.concurrentPerform(iterations: workers) { _ in
        // A worker that finds nothing left makes no scratch value.
        var claimed = slots.claim()
        guard claimed != nil else { return }
        var scratch = scratch()
        while let i = claimed {
            slots.set(i, body(i, &scratch))
            claimed = slots.claim()
        }
    }
    return (0..<count).map(slots.get)
}

/// `body(i)` for every `i` in `0..<count` on `threads` threads of their own: for work that
/// waits (network requests), where more requests in flight than cores pay off.
func concurrentMap<T>(count: Int, threads: Int, _ body: @escaping @Sendable (Int) -> T) -> [T] {
    let slots = Slots<T>(count: count)
    let group = DispatchGroup()
    for _ in 0..<min(count, max(1, threads)) {
        group.enter()
        let thread = Thread {
            while let i = slots.claim() { slots.set(i, body(i)) }
            group.leave()
        }
        thread.start()
    }
    group.wait()
    return (0..<count).map(slots.get)
}

/// Set once by the worker that fails, read by the others before they take more work.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}

/// One slot per index, each claimed and written by exactly one worker before any is read.
private final class Slots<T>: @unchecked Sendable {
    private let slots: UnsafeMutableBufferPointer<T?>
    private let lock = NSLock()
    private var next = 0

    init(count: Int) { slots = .allocate(capacity: count); slots.initialize(repeating: nil) }
    deinit { slots.deinitialize().deallocate() }

    func claim() -> Int? {
        lock.withLock {
            guard next < slots.count else { return nil }
            defer { next += 1 }
            return next
        }
    }

    func set(_ i: Int, _ value: T) { slots[i] = value }
    func get(_ i: Int) -> T { slots[i]! }
}
