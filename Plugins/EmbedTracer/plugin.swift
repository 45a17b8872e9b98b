import Foundation
import PackagePlugin

/// Compiles the read tracer (Sources/MLPackTracer, an LD_PRELOAD library in C) and embeds the
/// shared object in the MLPack target as a Swift constant: the `mlpack` binary carries it, so
/// tracing needs no install step and works from a binary copied anywhere alone.
@main
struct EmbedTracer: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let source = context.package.directoryURL.appending(path: "Sources/MLPackTracer/mlpack-trace.c")
        let library = context.pluginWorkDirectoryURL.appending(path: "libmlpack-trace.so")
        let generated = context.pluginWorkDirectoryURL.appending(path: "TracerLibrary.swift")
        return [
            .buildCommand(
                displayName: "Compiling the read tracer",
                executable: try compiler(context),
                arguments: [
                    "-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-fvisibility=default", "-o", library.path(),
                    source.path(), "-ldl", "-lpthread",
                ],
                inputFiles: [source], outputFiles: [library]),
            .buildCommand(
                displayName: "Embedding the read tracer",
                executable: try context.tool(named: "EmbedFile").url,
                arguments: [library.path(), generated.path()],
                inputFiles: [library], outputFiles: [generated]),
        ]
    }

    /// The toolchain's clang, else the system's C compiler.
    private func compiler(_ context: PluginContext) throws -> URL {
        if let clang = try? context.tool(named: "clang") { return clang.url }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for folder in path.split(separator: ":") {
            for name in ["clang", "cc", "gcc"] {
                let candidate = URL(fileURLWithPath: String(folder)).appending(path: name)
                if FileManager.default.isExecutableFile(atPath: candidate.path()) { return candidate }
            }
        }
        throw PluginError.noCompiler
    }

    enum PluginError: Error, CustomStringConvertible {
        case noCompiler
        var description: String { "no C compiler (clang, cc or gcc) to build the read tracer" }
    }
}
