import Foundation
import Testing

@Suite struct GenerateCommandTests {
    static let model = fixturesDirectory + "/mamba-tiny/model"

    /// The ids `taipan generate --ids` prints on its first line for `prompt`.
    func generatedIds(model: String = Self.model, _ prompt: [Int32], newTokens: Int) throws -> [Int32] {
        let result = try runTaipan([
            "generate", "--model", model, "--ids", prompt.map(String.init).joined(separator: ","),
            "--max-new-tokens", String(newTokens), "--stop", "",
        ])
        #expect(result.status == 0, "\(result.error)")
        return result.output.split(separator: "\n").first.map { $0.split(separator: ",").compactMap { Int32($0) } } ?? []
    }

    /// A text prompt prints the text of prompt and continuation, and no ids unless asked.
    @Test func aTextPromptPrintsTextOnly() throws {
        let prompt = "Hé"  // byte ids 72, 195, 169
        let ids = try generatedIds([72, 195, 169], newTokens: 12)
        #expect(ids.count == 15)
        let text = String(decoding: ids.map { UInt8($0) }, as: UTF8.self)
        let result = try runTaipan(["generate", "--model", Self.model, "--prompt", prompt, "--tokenizer", "byte", "--max-new-tokens", "12", "--stop", ""])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output == text + "\n")
        let withIds = try runTaipan([
            "generate", "--model", Self.model, "--prompt", prompt, "--tokenizer", "byte", "--max-new-tokens", "12", "--stop", "", "--print-ids",
        ])
        #expect(withIds.output == text + "\n" + ids.map(String.init).joined(separator: ",") + "\n")
    }

    /// A model directory holding tokenizer.json (as checkpoints do) needs no --tokenizer.
    @Test func theModelDirectorysTokenizerIsUsedWithoutTheOption() throws {
        let scratch = try TemporaryDirectory()
        let tokenizer = fixturesDirectory + "/tokenizer/tokenizer.json"
        // The tiny architecture with the fixture tokenizer's 3000 ids.
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.model + "/config.json"))) as? [String: Any] ?? [:]
        config["vocab_size"] = 3000
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: scratch.file("config.json")))
        let model = scratch.file("model")
        let created = try runTaipan(["model", "init", "--config", scratch.file("config.json"), "--out", model])
        #expect(created.status == 0, "\(created.error)")
        let arguments = ["generate", "--model", model, "--prompt", "def main():", "--max-new-tokens", "8", "--stop", ""]
        let without = try runTaipan(arguments)
        #expect(without.status != 0 && without.error.contains("--prompt needs --tokenizer") && without.error.contains(model))
        let explicit = try runTaipan(arguments + ["--tokenizer", tokenizer])
        #expect(explicit.status == 0, "\(explicit.error)")
        try FileManager.default.copyItem(atPath: tokenizer, toPath: model + "/tokenizer.json")
        let own = try runTaipan(arguments)
        #expect(own.status == 0, "\(own.error)")
        #expect(own.output == explicit.output && own.output.hasPrefix("def main():"))
    }

    /// A text prompt gets the tokenizer's begin-of-text token (Llama-2's `<s>`, as Hugging
    /// Face's encode(text) adds it), and the text printed leaves it out.
    @Test func aTextPromptGetsTheTemplatesBeginOfTextToken() throws {
        let scratch = try TemporaryDirectory()
        let shape = fixturesDirectory + "/tokenizers/llama2"
        let data = try Data(contentsOf: URL(fileURLWithPath: shape + "/expected.json"))
        let cases = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        let entry = try #require(cases.first { $0["text"] as? String == "Hello, world!" })
        let promptIds = try #require(entry["idsWithSpecialTokens"] as? [Int])
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.model + "/config.json"))) as? [String: Any] ?? [:]
        config["vocab_size"] = 1200
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: scratch.file("config.json")))
        let model = scratch.file("model")
        let created = try runTaipan(["model", "init", "--config", scratch.file("config.json"), "--out", model])
        #expect(created.status == 0, "\(created.error)")
        let result = try runTaipan([
            "generate", "--model", model, "--prompt", "Hello, world!", "--tokenizer", shape + "/tokenizer.json",
            "--max-new-tokens", "4", "--stop", "", "--print-ids",
        ])
        #expect(result.status == 0, "\(result.error)")
        // The text (which may hold newlines), then the ids on the last line.
        let lines = result.output.dropLast().split(separator: "\n", omittingEmptySubsequences: false)
        let ids = lines.last.map { $0.split(separator: ",").compactMap { Int($0) } } ?? []
        #expect(ids.count == promptIds.count + 4 && Array(ids.prefix(promptIds.count)) == promptIds)
        let text = lines.dropLast().joined(separator: "\n")
        #expect(text.hasPrefix(try #require(entry["decodedSkippingSpecialTokens"] as? String)) && !text.contains("<s>"))
    }
}
