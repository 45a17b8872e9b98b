import Foundation

/// Compares a recorded (expected) output with a rebuilt (actual) one: by SHA-256 first, then
/// by value for the kinds mlpack reads (safetensors, .npy, .npz, metrics JSON). Used by
/// `verify --rebuild` for every output and by `mlpack compare` on two files.
public enum OutputComparison {
    /// The kind a file is compared as, from its name.
    public static func kind(of path: String) -> ComparisonKind {
        switch (path as NSString).pathExtension.lowercased() {
        case "safetensors": .safetensors
        case "npy": .npy
        case "npz": .npz
        case "json": .metrics
        default: .bytes
        }
    }

    /// Errors reading `expected` are thrown (it is the reference); an `actual` file that is
    /// missing or not a valid file of the expected kind makes the verdict missing or different.
    /// `expectedSHA256`, when the caller has already checked it (an item copied out of a pack),
    /// saves hashing the expected file again.
    public static func compare(
        expected: String, actual: String, tolerance: ComparisonTolerance = .exact, expectedSHA256 known: String? = nil
    ) throws -> Comparison {
        let kind = kind(of: expected)
        let expectedSHA256 = try known ?? FileHashing.hash(file: expected).sha256
        guard FileSystem.status(actual) != nil else {
            var result = Comparison(verdict: .missing, kind: kind, tolerance: tolerance)
            result.expectedSHA256 = expectedSHA256
            result.actualUnreadable = "\(actual): no such file"
            return result
        }
        let actualSHA256: String
        do { actualSHA256 = try FileHashing.hash(file: actual).sha256 } catch let error as MLPackError {
            return unreadable(kind, tolerance, expectedSHA256, nil, error)
        }
        var result: Comparison
        if expectedSHA256 == actualSHA256 {
            result = Comparison(verdict: .identical, kind: kind, tolerance: tolerance)
        } else {
            do {
                result = try compareValues(kind, expected: expected, actual: actual, tolerance: tolerance)
            } catch let failure as ActualFileFailure {
                return unreadable(kind, tolerance, expectedSHA256, actualSHA256, failure.error)
            }
            // Same values in different bytes: equivalent, never identical.
            if result.verdict == .identical { result.verdict = .equivalent }
        }
        result.expectedSHA256 = expectedSHA256
        result.actualSHA256 = actualSHA256
        return result
    }

    /// Compares two metrics values key by key (see `compare(expected:actual:tolerance:)`).
    public static func compareMetrics(
        expected: JSONValue, actual: JSONValue, tolerance: ComparisonTolerance = .exact
    ) -> Comparison {
        var result = Comparison(verdict: .identical, kind: .metrics, tolerance: tolerance)
        let expectedLeaves = MetricsJSON.flatten(expected)
        let actualLeaves = Dictionary(MetricsJSON.flatten(actual), uniquingKeysWith: { first, _ in first })
        var seen = Set<String>()
        for (name, value) in expectedLeaves {
            seen.insert(name)
            result.metrics.append(metric(name, expected: value, actual: actualLeaves[name], tolerance: tolerance))
        }
        for (name, value) in MetricsJSON.flatten(actual) where !seen.contains(name) {
            var row = metric(name, expected: nil, actual: value, tolerance: tolerance)
            row.verdict = .different
            result.metrics.append(row)
        }

        // A key on one side only is a change of structure; values are judged row by row.
        for row in result.metrics where row.counted && (row.expected == nil || row.actual == nil) {
            result.problems.append(
                row.expected == nil
                    ? "metric \(row.name) is only in the actual file"
                    : "metric \(row.name) is missing from the actual file")
        }
        let counted = result.metrics.filter(\.counted)
        let differences = counted.compactMap { row in row.difference.map { (row, $0) } }
        if !differences.isEmpty {
            result.maxAbsoluteDifference = differences.map(\.1).max()
            result.maxRelativeDifference = differences.compactMap { row, difference -> Double? in
                guard let expected = row.expected.flatMap(MetricsJSON.number), expected != 0 else { return nil }
                return difference / abs(expected)
            }.max()
            if let top = differences.max(by: { $0.1 < $1.1 }), top.1 > 0 { result.worst = top.0.name }
        }
        result.verdict =
            !result.problems.isEmpty || counted.contains { !$0.verdict.passes }
            ? .different
            : result.metrics.allSatisfy { $0.verdict == .identical }
                ? .identical
                : counted.allSatisfy { $0.verdict == .identical }
                    ? .equivalent
                    : .withinTolerance
        return result
    }

    /// A timing metric: words that name a time or a speed, which no rebuild repeats.
    static func isTiming(_ name: String) -> Bool {
        let lowered = name.lowercased()
        if ["per_sec", "per_second", "it/s", "it_s", "samples/s", "tokens/s"].contains(where: lowered.contains) {
            return true
        }
        let words = lowered.split { !$0.isLetter }.map(String.init)
        let timing: Set<String> = [
            "seconds", "second", "secs", "sec", "time", "duration", "elapsed", "throughput", "runtime", "walltime",
            "timestamp", "ms",
        ]
        return words.contains(where: timing.contains)
    }

    // MARK: -

    private static func compareValues(
        _ kind: ComparisonKind, expected: String, actual: String, tolerance: ComparisonTolerance
    ) throws -> Comparison {
        switch kind {
        case .safetensors:
            let a = try SafetensorsFile(path: expected)
            let b = try ActualFileFailure.reading { try SafetensorsFile(path: actual) }
            return try TensorFileComparison.compare(expected: a, actual: b, kind: kind, tolerance: tolerance)
        case .npy:
            let a = try NpyFile(path: expected)
            let b = try ActualFileFailure.reading { try NpyFile(path: actual) }
            return try TensorFileComparison.compare(expected: a, actual: b, kind: kind, tolerance: tolerance)
        case .npz:
            let a = try NpzFile(path: expected)
            let b = try ActualFileFailure.reading { try NpzFile(path: actual) }
            return try TensorFileComparison.compare(expected: a, actual: b, kind: kind, tolerance: tolerance)
        case .metrics:
            let a = try MetricsJSON.read(expected)
            let b = try ActualFileFailure.reading { try MetricsJSON.read(actual) }
            return compareMetrics(expected: a, actual: b, tolerance: tolerance)
        case .bytes:
            var result = Comparison(verdict: .different, kind: .bytes, tolerance: tolerance)
            result.problems.append(
                "the bytes differ (mlpack compares .safetensors, .npy, .npz and metrics .json files by value, others by SHA-256)"
            )
            return result
        }
    }

    private static func metric(
        _ name: String, expected: JSONValue?, actual: JSONValue?, tolerance: ComparisonTolerance
    ) -> MetricComparison {
        let named = tolerance.metrics[name]
        var row = MetricComparison(
            name: name, expected: expected, actual: actual, verdict: .different,
            counted: named != nil || !isTiming(name))
        guard let expected else { return row }
        guard let actual else {
            row.verdict = .missing
            return row
        }
        guard let x = MetricsJSON.number(expected), let y = MetricsJSON.number(actual) else {
            row.verdict = expected == actual ? .identical : .different
            return row
        }
        if x.bitPattern == y.bitPattern || (x.isNaN && y.isNaN) {
            row.verdict = .identical
            row.difference = x.isFinite ? 0 : nil
            return row
        }
        let allowed = named ?? tolerance.allowed(from: x)
        row.tolerance = allowed
        if x.isFinite && y.isFinite {
            let difference = abs(y - x)
            row.difference = difference
            row.verdict = difference <= allowed ? .withinTolerance : .different
        }
        return row
    }

    private static func unreadable(
        _ kind: ComparisonKind, _ tolerance: ComparisonTolerance, _ expectedSHA256: String, _ actualSHA256: String?,
        _ error: MLPackError
    ) -> Comparison {
        var result = Comparison(verdict: .different, kind: kind, tolerance: tolerance)
        result.expectedSHA256 = expectedSHA256
        result.actualSHA256 = actualSHA256
        result.actualUnreadable = "\(error)"
        result.problems.append("\(error)")
        return result
    }
}
