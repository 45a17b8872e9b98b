import Foundation
import Testing

@testable import MLPack

@Suite("concurrentMap")
struct ConcurrentMapTests {
    @Test("results come back in index order, each index computed once", arguments: [0, 1, 2, 7, 5_000])
    func order(count: Int) {
        let calls = Counter()
        let results = concurrentMap(count: count) { i in
            calls.add()
            return i * i
        }
        #expect(results == (0..<count).map { $0 * $0 })
        #expect(calls.value == count)
    }

    @Test("one scratch value per worker, at most one per core, reused across indices")
    func scratchPerWorker() {
        let made = Counter()
        let results = concurrentMap(
            count: 1_000,
            scratch: { () -> [Int] in
                made.add(); return []
            }
        ) { i, seen in
            seen.append(i)
            return seen.count
        }
        #expect(made.value >= 1 && made.value <= ProcessInfo.processInfo.activeProcessorCount)
        // A worker's scratch keeps growing across its indices: it returns 1, 2, 3, … so there
        // is one 1 per scratch made, and a scratch served several indices.
        #expect(results.count == 1_000)
        #expect(
            results.filter { $0 == 1 }.count == made.value,
            "each scratch starts empty once, and only workers that took an index made one")
        #expect(results.max()! > 1)
    }

    private final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var count = 0
        func add() { lock.withLock { count += 1 } }
        var value: Int { lock.withLock { count } }
    }
}
