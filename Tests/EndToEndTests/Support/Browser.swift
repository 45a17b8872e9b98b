import Foundation
import TestSupport
import Testing

/// Debian's Chromium, headless, in a network namespace of its own: a page that tried to
/// fetch anything would get no answer, so what it shows came from the file alone.
enum Browser {
    static func executable() throws -> String {
        for candidate in ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        throw TestError("no headless browser: install Debian's chromium (scripts/setup.sh does)")
    }

    /// The page's DOM after loading `file`, serialized by the browser.
    static func dom(of file: String, in box: Sandbox) async throws -> String {
        let result = try await chromium(["--dump-dom", "file://" + file], in: box)
        return result.out
    }

    /// A PNG of the page at `width` pixels wide and `height` tall.
    static func screenshot(
        of file: String, to png: String, width: Int = 1100, height: Int, in box: Sandbox
    )
        async throws
    {
        _ = try await chromium(["--screenshot=" + png, "--window-size=\(width),\(height)", "file://" + file], in: box)
        let bytes = try readBytes(png)
        guard bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) else { throw TestError("\(png) is not a PNG") }
    }

    private static func chromium(_ arguments: [String], in box: Sandbox) async throws -> ProcessResult {
        let profile = try box.mkdir("chromium-profile-" + UUID().uuidString.prefix(8))
        let flags = [
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
            "--hide-scrollbars", "--user-data-dir=" + profile,
        ]
        // unshare -n needs root or user namespaces; bubblewrap (a set-up dependency) is the other way in.
        let isolate =
            try await run("unshare", ["-n", "true"]).status == 0
            ? ["unshare", "-n"] : ["bwrap", "--dev-bind", "/", "/", "--unshare-net", "--die-with-parent"]
        let result = try await run(
            isolate[0], Array(isolate.dropFirst()) + [try executable()] + flags + arguments,
            environment: ["HOME": profile], timeout: 90)
        guard result.status == 0 else { throw TestError("chromium failed: \(result)") }
        return result
    }
}
