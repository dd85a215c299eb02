// CommandRunner.swift — runs the built `taipan` executable as a user would, for end-to-end
// tests of the command line.

import Foundation

/// What a `taipan` run printed and how it exited.
struct CommandResult {
    let status: Int32
    let output: String
    let error: String
}

/// The path of the `taipan` executable built beside this test bundle.
let taipanExecutable: String = {
    var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    // The bundle may be a directory (…/TaipanPackageTests.xctest/…); climb to the build folder.
    while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("taipan").path), directory.path != "/" {
        directory.deleteLastPathComponent()
    }
    return directory.appendingPathComponent("taipan").path
}()

/// Runs `taipan arguments…` and waits for it.
func runTaipan(_ arguments: [String], environment: [String: String] = [:]) throws -> CommandResult {
    try run(taipanExecutable, arguments, environment: environment)
}

/// Starts `taipan arguments…` with its output and errors going to `log`.
func startTaipan(_ arguments: [String], log: String) throws -> Process {
    _ = FileManager.default.createFile(atPath: log, contents: nil)
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: taipanExecutable)
    process.arguments = arguments
    process.standardOutput = handle
    process.standardError = handle
    try process.run()
    return process
}

/// Runs `executable arguments…` (with `environment` added to this process's) and waits for it.
func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if !environment.isEmpty {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    }
    let output = Pipe(), error = Pipe()
    process.standardOutput = output
    process.standardError = error
    try process.run()
    let outputData = output.fileHandleForReading.readDataToEndOfFile()
    let errorData = error.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return CommandResult(
        status: process.terminationStatus, output: String(decoding: outputData, as: UTF8.self),
        error: String(decoding: errorData, as: UTF8.self))
}

/// The `Tests/Fixtures` directory.
let fixturesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures").path

/// A fresh empty directory, removed when the value is released.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("taipan-cli-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }
}

/// `mpirun` with what this machine and CI need: root may launch, and more ranks than cores.
let mpirunArguments = ["mpirun", "--allow-run-as-root", "--oversubscribe"]

/// Runs `mpirun -np ranks taipan arguments…` and waits for it.
func runMPI(ranks: Int, _ arguments: [String]) throws -> CommandResult {
    try run("/usr/bin/env", mpirunArguments + ["-np", String(ranks), taipanExecutable] + arguments)
}

/// Starts `mpirun -np ranks taipan arguments…` with its output and errors going to `log`.
func startMPI(ranks: Int, _ arguments: [String], log: String) throws -> Process {
    _ = FileManager.default.createFile(atPath: log, contents: nil)
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = mpirunArguments + ["-np", String(ranks), taipanExecutable] + arguments
    process.standardOutput = handle
    process.standardError = handle
    try process.run()
    return process
}

/// The process id of rank `rank` among the children of the launcher `launcher` (found by the
/// rank Open MPI puts in each process's environment).
func mpiRankProcess(launcher: Int32, rank: Int) -> Int32? {
    let processes = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap { Int32($0) } ?? []
    for pid in processes {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { continue }
        // pid (comm) state ppid …
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 1, Int32(fields[1]) == launcher,
            let environment = FileManager.default.contents(atPath: "/proc/\(pid)/environ")
        else { continue }
        let variables = environment.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        if variables.contains("OMPI_COMM_WORLD_RANK=\(rank)") { return pid }
    }
    return nil
}
