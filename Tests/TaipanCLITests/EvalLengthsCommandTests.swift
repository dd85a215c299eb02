import Foundation
import Testing

/// The synthetic-task configs as a user runs them, shrunk to a few steps, then
/// `taipan eval-lengths` on two of them.
@Suite(.serialized) struct EvalLengthsCommandTests {
    static let configs = [
        "selective-copying-s6", "selective-copying-lti", "selective-copying-s6-no-gate", "selective-copying-lti-no-gate",
        "induction-heads-s6", "induction-heads-lti",
    ]

    @Test func everySyntheticConfigTrainsAFewStepsAndEvalLengthsChartsTwoRuns() throws {
        let directory = try TemporaryDirectory()
        for name in Self.configs {
            let copying = name.hasPrefix("selective")
            let result = try runTaipan(["train", repositoryRoot + "/configs/synth/\(name).toml"] + [
                "train.run_dir=\(directory.file(name))", "train.max_steps=3", "schedule.warmup_steps=1",
                "data.sequence_length=\(copying ? 24 : 16)", "data.copy_tokens=4", "data.induction_queries=2", "train.batch_size=4", "train.threads=1",
                "eval.batches=1", "checkpoint.interval=0", "log.interval=1",
            ].flatMap { ["--set", $0] })
            #expect(result.status == 0, "\(name): \(result.error)")
            #expect(result.output.contains("generated on the fly"), "\(name): \(result.output)")
            #expect(result.output.contains("accuracy"), "\(name): \(result.output)")
        }
        let chart = directory.file("chart.svg")
        let evaluated = try runTaipan([
            "eval-lengths", directory.file("induction-heads-s6") + "/checkpoints/step-00000003",
            directory.file("induction-heads-lti"),  // a run directory: its newest checkpoint
            "--lengths", "16,64", "--sequences", "3", "--queries", "1", "--threads", "2", "--chart", chart,
        ])
        #expect(evaluated.status == 0, "\(evaluated.error)")
        #expect(evaluated.output.contains("induction_heads | S6 | 16 | 64 |"), "\(evaluated.output)")
        #expect(evaluated.output.contains("induction_heads | LTI | 16 | 16 |"), "\(evaluated.output)")
        let svg = try String(contentsOfFile: chart, encoding: .utf8)
        #expect(svg.hasPrefix("<svg") && svg.components(separatedBy: "<polyline").count == 3)

        // Selective copying (the answers read as blanks) in the recurrent form, with each layer's Δ by role.
        let copying = try runTaipan([
            "eval-lengths", directory.file("selective-copying-s6") + "/checkpoints/step-00000003", "--lengths", "24,48",
            "--sequences", "2", "--threads", "1", "--chart", directory.file("copying.svg"), "--time-steps",
        ])
        #expect(copying.status == 0, "\(copying.error)")
        #expect(copying.output.contains("selective_copying | S6 | 24 | 48 |"), "\(copying.output)")
        // 2 sequences: one marker each, and 3 answer positions read (the last answer is never read).
        #expect(copying.output.contains("S6 | 0 | marker | 2 |") && copying.output.contains("S6 | 1 | answer | 6 |"), "\(copying.output)")

        // A run directory with no complete checkpoint is refused by name.
        try FileManager.default.createDirectory(atPath: directory.file("unstarted/checkpoints"), withIntermediateDirectories: true)
        let unstarted = try runTaipan(["eval-lengths", directory.file("unstarted"), "--lengths", "16"])
        #expect(unstarted.status != 0 && unstarted.error.contains("unstarted: a run directory without a complete checkpoint"), "\(unstarted.error)")

        // A text run is refused by name, and so are bad lengths.
        let tooShort = try runTaipan(["eval-lengths", directory.file("induction-heads-s6") + "/checkpoints/step-00000003", "--lengths", "2"])
        #expect(tooShort.status != 0 && tooShort.error.contains("--lengths"), "\(tooShort.error)")
        let badList = try runTaipan(["eval-lengths", directory.file("induction-heads-s6") + "/checkpoints/step-00000003", "--lengths", "16,x"])
        #expect(badList.status != 0 && badList.error.contains("--lengths"), "\(badList.error)")
        // An LTI model is not exported as transformers' MambaForCausalLM.
        let converted = try runTaipan(["model", "convert", directory.file("induction-heads-lti") + "/checkpoints/step-00000003", directory.file("exported")])
        #expect(converted.status != 0 && converted.error.contains("transformers"), "\(converted.error)")
    }
}
