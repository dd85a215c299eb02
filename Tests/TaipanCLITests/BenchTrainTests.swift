import Foundation
import Testing

/// `taipan bench generate` on a model directory, and its refusal of one that is not.
@Suite struct BenchTrainTests {
    @Test func benchGenerateDecodesAGivenModelDirectory() throws {
        let model = repositoryRoot + "/Tests/Fixtures/mamba2-tiny/model"
        let result = try runTaipan([
            "bench", "generate", "--config", repositoryRoot + "/configs/quickstart.toml", "--model", model,
            "--prompt", "4", "--tokens", "3", "--runs", "1", "--threads", "1", "--weights", "int8",
        ])
        #expect(result.status == 0, "\(result.error)")
        // The fixture's parameters (the sum of its model.safetensors shapes, embedding tied to
        // the head), not the quickstart config's 2,800,896.
        #expect(result.output.hasPrefix(model + ": ") && result.output.contains(" parameters, int8 weights"), "\(result.output)")
        let count = result.output.dropFirst(model.count + 2).prefix { $0 != "p" }.filter(\.isNumber)
        #expect(count == "77168", "whatever the locale's grouping: \(result.output)")
        #expect(result.output.contains("RESULT tokens_per_second="), "\(result.output)")
    }

    @Test func benchGenerateRefusesADirectoryWithoutAModel() throws {
        let directory = try TemporaryDirectory()
        let result = try runTaipan([
            "bench", "generate", "--config", repositoryRoot + "/configs/quickstart.toml", "--model", directory.path,
            "--tokens", "1", "--runs", "1",
        ])
        #expect(result.status != 0 && result.error.contains(directory.path), "\(result.error)")
    }
}
