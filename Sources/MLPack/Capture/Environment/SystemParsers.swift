import Foundation

/// Pure parsers for what Linux says about itself: each takes the raw text of a file or a
/// command's output and returns values, nil (or empty) for anything it does not find.
enum SystemParsers {
    /// `/etc/os-release`: `KEY=value` lines, values optionally quoted (os-release(5)).
    static func osRelease(_ text: String) -> EnvironmentCapture.OperatingSystem {
        var fields: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.hasPrefix("#"), let eq = trimmed.firstIndex(of: "=") else { continue }
            fields[String(trimmed[..<eq])] = unquote(trimmed[trimmed.index(after: eq)...])
        }
        func field(_ name: String) -> String? { fields[name].flatMap { $0.isEmpty ? nil : $0 } }
        return .init(
            id: field("ID"), versionId: field("VERSION_ID"), version: field("VERSION"), prettyName: field("PRETTY_NAME")
        )
    }

    private static func unquote(_ value: Substring) -> String {
        var value = value.trimmingCharacters(in: .whitespaces)
        guard let quote = value.first, quote == "\"" || quote == "'", value.count >= 2, value.last == quote else {
            return value
        }
        value = String(value.dropFirst().dropLast())
        guard quote == "\"" else { return value }
        var out = ""
        var escaped = false
        for c in value {
            if escaped || c != "\\" { out.append(c); escaped = false } else { escaped = true }
        }
        return out
    }

    struct Uname: Equatable {
        var hostname: String?
        var release: String?
        var machine: String?
    }

    /// `uname -srm` ("Linux 6.18.44 x86_64") or `uname -a` ("Linux vm 6.18.44 #1 SMP … x86_64
    /// x86_64 x86_64 GNU/Linux"). In `-a` the kernel version holds spaces, so the machine is
    /// read from the end: the word before the operating system.
    static func uname(_ text: String) -> Uname {
        let words =
            text.split(whereSeparator: \.isNewline).first.map { $0.split(separator: " ").map(String.init) } ?? []
        switch words.count {
        case 0, 1: return Uname()
        case 2: return Uname(release: words[1])
        case 3: return Uname(release: words[1], machine: words[2])
        default:
            let machine = words.last!.contains("/") || words.last == "Linux" ? words[words.count - 2] : words.last
            return Uname(hostname: words[1], release: words[2], machine: machine)
        }
    }

    /// `lscpu`: "Label:   value" lines.
    static func lscpu(_ text: String) -> (arch: String?, cpu: EnvironmentCapture.CPU) {
        var fields: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let label = line[..<colon].trimmingCharacters(in: .whitespaces)
            if fields[label] == nil {
                fields[label] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        let cpu = EnvironmentCapture.CPU(
            vendor: nonEmpty(fields["Vendor ID"]), model: nonEmpty(fields["Model name"]),
            cores: fields["CPU(s)"].flatMap { Int($0) }, flags: sortedFlags(fields["Flags"] ?? ""))
        return (nonEmpty(fields["Architecture"]), cpu)
    }

    /// `/proc/cpuinfo`: the first processor's vendor, model and flags ("Features" on ARM),
    /// and the number of processors listed.
    static func cpuinfo(_ text: String) -> EnvironmentCapture.CPU {
        var fields: [String: String] = [:]
        var processors = 0
        for line in text.split(whereSeparator: \.isNewline) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let label = line[..<colon].trimmingCharacters(in: .whitespaces)
            if label == "processor" { processors += 1 }
            if fields[label] == nil {
                fields[label] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return .init(
            vendor: nonEmpty(fields["vendor_id"] ?? fields["CPU implementer"]),
            model: nonEmpty(fields["model name"] ?? fields["Model"]),
            cores: processors > 0 ? processors : nil,
            flags: sortedFlags(fields["flags"] ?? fields["Features"] ?? ""))
    }

    /// lscpu's record, with what it lacks taken from /proc/cpuinfo.
    static func cpu(lscpu: String?, cpuinfo: String?) -> (arch: String?, cpu: EnvironmentCapture.CPU) {
        let fromLscpu = lscpu.map(Self.lscpu)
        let fromCpuinfo = cpuinfo.map(Self.cpuinfo)
        var cpu = fromLscpu?.cpu ?? fromCpuinfo ?? .init()
        if let other = fromCpuinfo {
            cpu.vendor = cpu.vendor ?? other.vendor
            cpu.model = cpu.model ?? other.model
            cpu.cores = cpu.cores ?? other.cores
            if cpu.flags.isEmpty { cpu.flags = other.flags }
        }
        return (fromLscpu?.arch, cpu)
    }

    /// `/proc/meminfo`'s MemTotal, in bytes.
    static func memTotal(_ text: String) -> UInt64? {
        for line in text.split(whereSeparator: \.isNewline) where line.hasPrefix("MemTotal:") {
            let words = line.dropFirst("MemTotal:".count).split(separator: " ")
            guard let value = words.first.flatMap({ UInt64($0) }) else { return nil }
            let unit = words.count > 1 ? words[1].lowercased() : "kb"
            return unit == "kb" ? value * 1024 : value
        }
        return nil
    }

    /// `ldd --version` ("ldd (Ubuntu GLIBC 2.39-0ubuntu8.9) 2.39" → "glibc 2.39"; musl's
    /// "musl libc (x86_64)\nVersion 1.2.4" → "musl 1.2.4"), or confstr's "glibc 2.39".
    static func libc(_ text: String) -> String? {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let first = lines.first else { return nil }
        if first.lowercased().hasPrefix("musl") {
            let version = lines.first { $0.hasPrefix("Version ") }?.dropFirst("Version ".count)
            return version.map { "musl \($0)" } ?? "musl"
        }
        if first.hasPrefix("glibc ") { return first }
        guard first.uppercased().contains("GLIBC") || first.contains("GNU libc"),
            let version = first.split(separator: " ").last, version.first?.isNumber == true
        else { return nil }
        return "glibc \(version)"
    }

    static func sortedFlags(_ text: String) -> [String] {
        sortedFlags(text.split(whereSeparator: \.isWhitespace).map(String.init))
    }

    /// Flags sorted, each once.
    static func sortedFlags(_ flags: [String]) -> [String] { Array(Set(flags)).sorted() }

    static func nonEmpty(_ text: String?) -> String? {
        guard let text = text?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        return text
    }
}
