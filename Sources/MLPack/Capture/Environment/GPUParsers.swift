import Foundation

/// Pure parsers for what the NVIDIA tools print.
enum GPUParsers {
    /// `nvidia-smi --query-gpu=index,name,driver_version,memory.total,compute_cap --format=csv`
    /// (other columns, such as uuid or pci.bus_id, may be present and are ignored: they
    /// identify a card, not a platform). Columns are found by their header names, so
    /// `nounits` and any column order work; without a header, the order above is assumed.
    static func queryCSV(_ text: String) -> [EnvironmentCapture.GPU] {
        var lines = text.split(whereSeparator: \.isNewline).map(String.init).filter {
            !$0.trimmingCharacters(in: .whitespaces).isEmpty
        }
        guard !lines.isEmpty else { return [] }
        var columns = ["index", "name", "driver_version", "memory.total", "compute_cap"]
        if lines[0].contains("name")
            && (lines[0].contains("driver_version") || lines[0].contains("memory.total") || lines[0].contains("index"))
        {
            columns = cells(lines.removeFirst()).map { header in
                // "memory.total [MiB]" → "memory.total"
                String(header.split(separator: " ").first ?? "")
            }
        }
        func value(_ row: [String], _ column: String) -> String? {
            guard let i = columns.firstIndex(of: column), i < row.count else { return nil }
            let cell = row[i]
            return cell.isEmpty || cell.hasPrefix("[") || cell == "N/A" ? nil : cell
        }
        return lines.compactMap { line in
            let row = cells(line)
            guard let name = value(row, "name") else { return nil }
            return .init(
                name: name, driverVersion: value(row, "driver_version"),
                memoryMiB: value(row, "memory.total").flatMap(mebibytes),
                computeCapability: value(row, "compute_cap"))
        }
    }

    private static func cells(_ line: String) -> [String] {
        line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// "81559 MiB", "81559" → 81559; "80 GiB" → 81920.
    static func mebibytes(_ text: String) -> Int? {
        let words = text.split(separator: " ")
        guard let number = words.first.flatMap({ Int($0) }) else { return nil }
        switch words.count > 1 ? words[1].lowercased() : "mib" {
        case "mib": return number
        case "gib": return number * 1024
        case "kib": return number / 1024
        default: return nil
        }
    }

    /// The CUDA version in the header of plain `nvidia-smi` ("CUDA Version: 13.0"), or the
    /// `<cuda_version>` element of `nvidia-smi -q -x`.
    static func cudaVersion(_ text: String) -> String? {
        if let version = after("CUDA Version:", in: text) { return version }
        return element("cuda_version", in: text)
    }

    /// The driver version from `nvidia-smi`'s header or `-q -x` XML.
    static func driverVersion(_ text: String) -> String? {
        after("Driver Version:", in: text) ?? element("driver_version", in: text)
    }

    /// GPUs from `nvidia-smi -q -x`, for drivers too old for `--query-gpu=compute_cap`:
    /// product name, framebuffer total and the driver; no compute capability.
    static func xmlGPUs(_ text: String) -> [EnvironmentCapture.GPU] {
        let driver = element("driver_version", in: text)
        return text.components(separatedBy: "<gpu id=").dropFirst().compactMap { block in
            guard let name = element("product_name", in: block) else { return nil }
            let memory = block.range(of: "<fb_memory_usage>").flatMap {
                element("total", in: String(block[$0.upperBound...]))
            }
            return .init(name: name, driverVersion: driver, memoryMiB: memory.flatMap(mebibytes))
        }
    }

    /// `nvcc --version`'s "Cuda compilation tools, release 13.0, V13.0.88" → "13.0.88".
    static func nvccVersion(_ text: String) -> String? {
        for line in text.split(whereSeparator: \.isNewline) where line.contains("release") {
            if let v = line.split(separator: ",").last?.trimmingCharacters(in: .whitespaces), v.hasPrefix("V") {
                return String(v.dropFirst())
            }
            if let range = line.range(of: "release ") {
                return line[range.upperBound...].prefix { $0.isNumber || $0 == "." }.description
            }
        }
        return nil
    }

    /// The word after `label` (e.g. "CUDA Version:") on its line.
    private static func after(_ label: String, in text: String) -> String? {
        guard let range = text.range(of: label) else { return nil }
        let word = text[range.upperBound...].drop { $0 == " " }.prefix { !$0.isWhitespace && $0 != "|" }
        return word.isEmpty || word == "N/A" ? nil : String(word)
    }

    /// The text of the first `<name>…</name>` element.
    private static func element(_ name: String, in text: String) -> String? {
        guard let open = text.range(of: "<\(name)>"),
            let close = text.range(of: "</\(name)>", range: open.upperBound..<text.endIndex)
        else { return nil }
        let value = text[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespacesAndNewlines)
        return value.isEmpty || value == "N/A" ? nil : value
    }
}
