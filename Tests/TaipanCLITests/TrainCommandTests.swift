import Foundation
import Testing

/// `taipan train` as a user runs it, alone and as a 2-rank MPI job of the quickstart config
/// (shrunk to 20 steps of a global batch of 4 × 64 byte tokens).
@Suite(.serialized) struct TrainCommandTests {
    /// The quickstart config on a small corpus of real text (this repository's Swift sources).
    final class QuickstartRun {
        let directory = try! TemporaryDirectory()

        init() throws {
            try writeSourceCorpus(into: directory.path, files: 4)
        }

        func arguments(run: String, steps: Int = 20, checkpointEvery: Int = 10) -> [String] {
            let inputs = (0..<3).map { "\"\(directory.file("corpus-\($0).jsonl"))\"" }.joined(separator: ",")
            return ["train", repositoryRoot + "/configs/quickstart.toml"] + [
                "data.train=[\(inputs)]", "data.validation=[\"\(directory.file("corpus-3.jsonl"))\"]",
                "data.tokenizer=byte", "data.sequence_length=64", "train.batch_size=4", "train.max_steps=\(steps)",
                "train.threads=1", "train.run_dir=\(directory.file(run))", "schedule.warmup_steps=5",
                "eval.interval=0", "eval.batches=2", "eval.sample_tokens=0", "checkpoint.interval=\(checkpointEvery)",
                "checkpoint.keep_last=5", "log.interval=1",
            ].flatMap { ["--set", $0] }
        }

        /// The training losses of `metrics.jsonl` in run `run`, by step.
        func losses(run: String) throws -> [Int: Double] {
            let text = try String(contentsOfFile: directory.file(run) + "/metrics.jsonl", encoding: .utf8)
            var losses: [Int: Double] = [:]
            for line in text.split(separator: "\n") {
                let record = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
                if record["kind"] as? String == "train", let step = record["step"] as? Int, let loss = record["loss"] as? Double {
                    losses[step] = loss
                }
            }
            return losses
        }

        func checkpoint(run: String, step: Int) -> String {
            directory.file(run) + "/checkpoints/" + String(format: "step-%08d", step)
        }
    }

    @Test func twoRanksLogTheLossesOfOneProcessAndResumeOnEither() throws {
        let runs = try QuickstartRun()
        let single = try runTaipan(runs.arguments(run: "single"))
        #expect(single.status == 0, "\(single.error)")
        let parallel = try runMPI(ranks: 2, runs.arguments(run: "parallel"))
        #expect(parallel.status == 0, "\(parallel.output)\(parallel.error)")
        #expect(parallel.output.contains("data parallel: 2 ranks"))
        let (one, two) = (try runs.losses(run: "single"), try runs.losses(run: "parallel"))
        #expect(one.count == 20 && two.count == 20)
        for step in 1...20 {
            guard let a = one[step], let b = two[step] else { Issue.record("no loss at step \(step)"); continue }
            #expect(abs(a - b) <= 1e-4 * abs(a), "step \(step): 1 process \(a), 2 ranks \(b)")
        }

        // A 2-rank resume from step 10 is bit-identical to the uninterrupted 2-rank run.
        let manager = FileManager.default
        let reference = runs.directory.file("reference")
        try manager.copyItem(atPath: runs.checkpoint(run: "parallel", step: 20), toPath: reference)
        try manager.removeItem(atPath: runs.checkpoint(run: "parallel", step: 20))
        let resumed = try runMPI(ranks: 2, runs.arguments(run: "parallel") + ["--resume"])
        #expect(resumed.status == 0, "\(resumed.output)\(resumed.error)")
        #expect(resumed.output.contains("resumed from") && resumed.output.contains("step-00000010"))
        for file in ["model.safetensors", "optimizer.safetensors"] {
            #expect(manager.contents(atPath: reference + "/" + file) == manager.contents(atPath: runs.checkpoint(run: "parallel", step: 20) + "/" + file),
                    "\(file) differs after a 2-rank resume")
        }
        #expect(try runs.losses(run: "parallel") == two)

        // The 2-rank checkpoint resumes in one process: same global batches, same losses
        // within float rounding, and a warning that it is not bit-identical.
        try manager.removeItem(atPath: runs.checkpoint(run: "parallel", step: 20))
        let alone = try runTaipan(runs.arguments(run: "parallel") + ["--resume"])
        #expect(alone.status == 0, "\(alone.error)")
        #expect(alone.output.contains("written by 2 rank(s) of 1 thread(s) and this run uses 1 of 1"))
        let after = try runs.losses(run: "parallel")
        for step in 11...20 {
            guard let a = two[step], let b = after[step] else { Issue.record("no loss at step \(step)"); continue }
            #expect(abs(a - b) <= 1e-4 * abs(a), "step \(step): 2 ranks \(a), resumed alone \(b)")
        }
    }

    /// Prompt/completion data: the loss of a global batch is divided by its counted targets
    /// summed over the ranks, so 2 ranks log the losses of 1 process.
    @Test func twoRanksAgreeWithOneProcessOnPromptCompletionData() throws {
        let runs = try QuickstartRun()
        try writeExampleCorpus(into: runs.directory.path, files: 4)
        let inputs = (0..<3).map { "\"\(runs.directory.file("examples-\($0).jsonl"))\"" }.joined(separator: ",")
        func arguments(_ run: String) -> [String] {
            runs.arguments(run: run, steps: 8) + [
                "data.format=prompt_completion", "data.train=[\(inputs)]",
                "data.validation=[\"\(runs.directory.file("examples-3.jsonl"))\"]", "data.cache_dir=\(runs.directory.file(run + "-data"))",
            ].flatMap { ["--set", $0] }
        }
        let single = try runTaipan(arguments("single"))
        #expect(single.status == 0, "\(single.error)")
        #expect(single.output.contains("prompt/completion examples") && single.output.contains("the loss counts completions only"))
        let parallel = try runMPI(ranks: 2, arguments("parallel"))
        #expect(parallel.status == 0, "\(parallel.output)\(parallel.error)")
        let (one, two) = (try runs.losses(run: "single"), try runs.losses(run: "parallel"))
        #expect(one.count == 8 && two.count == 8)
        for step in 1...8 {
            guard let a = one[step], let b = two[step] else { Issue.record("no loss at step \(step)"); continue }
            #expect(abs(a - b) <= 1e-4 * abs(a) && a > 1, "step \(step): 1 process \(a), 2 ranks \(b)")
        }
    }

    /// SIGTERM (a scheduler's preemption) and SIGINT (Ctrl-C) save the last finished step at
    /// once, without finishing the step in progress, and the run resumes from it.
    @Test(arguments: [SIGTERM, SIGINT])
    func aSignalSavesTheLastFinishedStepAndTheRunResumes(signal: Int32) throws {
        let runs = try QuickstartRun()
        let log = runs.directory.file("signalled.log")
        let job = try startTaipan(runs.arguments(run: "signalled", steps: 100_000, checkpointEvery: 0), log: log)
        let deadline = Date().addingTimeInterval(120)
        while job.isRunning && Date() < deadline && ((try? runs.losses(run: "signalled").count) ?? 0) < 3 { usleep(100_000) }
        try #require(job.isRunning, "the run ended early: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        // A second process on the same run directory is refused, naming the first.
        let second = try runTaipan(runs.arguments(run: "signalled", steps: 100_000, checkpointEvery: 0) + ["--resume"])
        #expect(second.status != 0 && second.error.contains("in use by another taipan process (pid \(job.processIdentifier))"), "\(second.error)")
        kill(job.processIdentifier, signal)
        let signalled = Date()
        while job.isRunning && Date().timeIntervalSince(signalled) < 60 { usleep(50_000) }
        let ended = !job.isRunning
        if !ended { job.terminate() }
        job.waitUntilExit()
        let output = try String(contentsOfFile: log, encoding: .utf8)
        #expect(ended && job.terminationStatus == 0, "\(output)")
        let line = try #require(output.split(separator: "\n").first { $0.hasPrefix("stopped by a signal at step ") }, "\(output)")
        let step = try #require(Int(line.dropFirst("stopped by a signal at step ".count).prefix { $0.isNumber }))
        #expect(line.contains("complete") && line.contains("--resume"), "\(line)")
        #expect(FileManager.default.fileExists(atPath: runs.checkpoint(run: "signalled", step: step) + "/COMPLETE"))
        // Nothing after that step was recorded as done.
        #expect(try runs.losses(run: "signalled").keys.max() == step)

        let resumed = try runTaipan(runs.arguments(run: "signalled", steps: step + 2, checkpointEvery: 0) + ["--resume"])
        #expect(resumed.status == 0, "\(resumed.output)\(resumed.error)")
        #expect(resumed.output.contains("resumed from") && resumed.output.contains("at step \(step)"), "\(resumed.output)")
        #expect(FileManager.default.fileExists(atPath: runs.checkpoint(run: "signalled", step: step + 2) + "/COMPLETE"))
    }

    /// The short version of `scripts/kill-soak.sh`: 3 SIGKILLs (in data preparation, in
    /// training, in a checkpoint write), and the run still ends bit-identical.
    @Test func killSoakPassesAShortRun() throws {
        let result = try run("/usr/bin/env", ["TAIPAN=\(taipanExecutable)", "STEPS=20", "bash", repositoryRoot + "/scripts/kill-soak.sh", "3"])
        #expect(result.status == 0, "\(result.output)\(result.error)")
        #expect(result.output.contains("kill-soak: 3 kills, the run ends bit-identical"), "\(result.output)")
        #expect(result.output.contains("model.safetensors: identical") && result.output.contains("records identical"), "\(result.output)")
    }

    /// When the data under a run changed, the refusal says so in the words of the command that
    /// was run (`make train` passes its own name) and says how to start over.
    @Test func changedDataIsReportedInTheWordsOfTheCommand() throws {
        let runs = try QuickstartRun()
        let first = try runTaipan(runs.arguments(run: "changed", steps: 6, checkpointEvery: 0))
        #expect(first.status == 0, "\(first.output)\(first.error)")
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: runs.directory.file("corpus-0.jsonl")))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"text\": \"a new document\"}\n".utf8))
        try handle.close()
        let resumed = try runTaipan(runs.arguments(run: "changed", steps: 8, checkpointEvery: 0) + ["--resume"])
        #expect(resumed.status != 0)
        #expect(resumed.error.contains("taipan train --resume: the training data changed") && resumed.error.contains("corpus-0.jsonl"), "\(resumed.error)")
        #expect(resumed.error.contains("--force"), "\(resumed.error)")
        let make = try runTaipan(runs.arguments(run: "changed", steps: 8, checkpointEvery: 0) + ["--resume"], environment: ["TAIPAN_COMMAND": "make train"])
        #expect(make.status != 0)
        #expect(make.error.contains("make train: the training data changed") && make.error.contains("make train FORCE=1"), "\(make.error)")
        #expect(FileManager.default.fileExists(atPath: runs.checkpoint(run: "changed", step: 6) + "/COMPLETE"))
    }

    @Test func killingOneRankEndsTheJobAndTheRunResumes() throws {
        let runs = try QuickstartRun()
        let log = runs.directory.file("killed.log")
        let job = try startMPI(ranks: 2, runs.arguments(run: "killed", steps: 100_000, checkpointEvery: 3), log: log)
        let complete = runs.checkpoint(run: "killed", step: 3) + "/COMPLETE"
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: complete) && job.isRunning && Date() < deadline { usleep(100_000) }
        let started = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        try #require(FileManager.default.fileExists(atPath: complete), "no checkpoint appeared: \(started)")
        let victim = try #require(mpiRankProcess(launcher: job.processIdentifier, rank: 1))
        let killed = Date()
        kill(victim, SIGKILL)
        while job.isRunning && Date().timeIntervalSince(killed) < 30 { usleep(100_000) }
        let ended = !job.isRunning
        if !ended { job.terminate() }
        #expect(ended, "the job still ran 30 s after rank 1 was killed")
        job.waitUntilExit()
        #expect(job.terminationStatus != 0)
        let output = try String(contentsOfFile: log, encoding: .utf8)
        #expect(output.contains("rank 1") && output.contains("signal 9"), "\(output)")

        let resumed = try runMPI(ranks: 2, runs.arguments(run: "killed", steps: 8, checkpointEvery: 3) + ["--resume"])
        #expect(resumed.status == 0, "\(resumed.output)\(resumed.error)")
        #expect(FileManager.default.fileExists(atPath: runs.checkpoint(run: "killed", step: 8) + "/COMPLETE"))
    }
}

/// The repository root (Tests/TaipanCLITests/…/../..).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// Writes `files` JSON Lines files `corpus-N.jsonl` of real text into `directory`: this
/// repository's Swift sources, one document per source file, dealt round-robin.
func writeSourceCorpus(into directory: String, files: Int) throws {
    let sources = repositoryRoot + "/Sources"
    let paths = (FileManager.default.enumerator(atPath: sources)?.compactMap { $0 as? String } ?? [])
        .filter { $0.hasSuffix(".swift") }.sorted()
    var lines = [[String]](repeating: [], count: files)
    for (index, path) in paths.enumerated() {
        let text = try String(contentsOfFile: sources + "/" + path, encoding: .utf8)
        let record: [String: Any] = ["text": text, "meta": ["pile_set_name": "Swift"]]
        let data = try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys])
        lines[index % files].append(String(decoding: data, as: UTF8.self))
    }
    for (index, file) in lines.enumerated() {
        try (file.joined(separator: "\n") + "\n").write(toFile: directory + "/corpus-\(index).jsonl", atomically: true, encoding: .utf8)
    }
}

/// Writes `files` JSON Lines files `examples-N.jsonl` of prompt/completion examples made from
/// this repository's Swift sources (as `writeSourceCorpus` deals them): a file's first 20 to
/// 39 characters the prompt, the next 30 the completion.
func writeExampleCorpus(into directory: String, files: Int) throws {
    try writeSourceCorpus(into: directory, files: files)
    for index in 0..<files {
        let lines = try String(contentsOfFile: directory + "/corpus-\(index).jsonl", encoding: .utf8).split(separator: "\n")
        var examples: [String] = []
        for (number, line) in lines.enumerated() {
            let text = (try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["text"] as? String ?? ""
            let prompt = 20 + number % 20
            let record = ["prompt": String(text.prefix(prompt)), "completion": String(text.dropFirst(prompt).prefix(30))]
            examples.append(String(decoding: try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys]), as: UTF8.self))
        }
        try (examples.joined(separator: "\n") + "\n").write(toFile: directory + "/examples-\(index).jsonl", atomically: true, encoding: .utf8)
    }
}

