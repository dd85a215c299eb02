import Foundation
import Testing
import TaipanTokenizersTestSupport
@testable import TaipanTokenizers

func tinyTokenizer(_ json: String) throws -> BPETokenizer {
    try BPETokenizer(try TokenizerFile(json: Data(json.utf8), path: "tiny.json"))
}

@Suite struct BPETokenizerTests {
    @Test func fixtureIdsMatchHuggingFaceIdForId() throws {
        let tokenizer = try BPETokenizer(contentsOf: TokenizerFixtures.tokenizerPath)
        #expect(tokenizer.vocabularySize == 3000)
        #expect(tokenizer.endOfText == 0)
        #expect(tokenizer.specialTokens == ["<|endoftext|>": 0, "<|padding|>": 1])
        let cases = try TokenizerFixtures.cases()
        #expect(cases.count == 15)
        for entry in cases {
            #expect(tokenizer.encode(entry.text) == entry.ids, "\(entry.text.debugDescription)")
            #expect(try tokenizer.decode(entry.ids) == entry.decoded, "\(entry.text.debugDescription)")
        }
    }

    @Test(arguments: ShapeFixtures.shapes)
    func releasedShapesMatchHuggingFace(shape: String) throws {
        let tokenizer = try BPETokenizer(contentsOf: ShapeFixtures.tokenizerPath(shape))
        for entry in try ShapeFixtures.cases(shape) {
            try expectLibraryResults(tokenizer, entry, "\(shape) \(entry.text.debugDescription)")
        }
    }

    /// `entry`'s ids and decodings, with and without special tokens, and of the text paired.
    func expectLibraryResults(_ tokenizer: BPETokenizer, _ entry: TokenizerFixtures.Case, _ name: String) throws {
        #expect(tokenizer.encode(entry.text, addSpecialTokens: false) == entry.ids, "\(name)")
        if let decoded = entry.decoded {
            #expect(try tokenizer.decode(entry.ids) == decoded, "\(name)")
        }
        let special = try #require(entry.idsWithSpecialTokens, "\(name): fixture without special-token ids")
        #expect(tokenizer.encode(entry.text) == special, "\(name)")
        #expect(tokenizer.encode(entry.text, pair: TokenizerFixtures.pairText) == entry.pairIdsWithSpecialTokens, "\(name)")
        #expect(tokenizer.encode(entry.text, pair: TokenizerFixtures.pairText, addSpecialTokens: false) == entry.pairIds, "\(name)")
        if let decoded = entry.decodedWithSpecialTokens {
            #expect(try tokenizer.decode(special, skipSpecialTokens: false) == decoded, "\(name)")
        }
        if let decoded = entry.decodedSkippingSpecialTokens {
            #expect(try tokenizer.decode(special, skipSpecialTokens: true) == decoded, "\(name)")
        }
    }

    /// The released files' TemplateProcessing: Llama-3's begin-of-text token behind a
    /// ByteLevel post-processor, Llama-2's `<s>`.
    @Test func llamaTemplatesAddTheBeginOfTextToken() throws {
        let llama3 = try BPETokenizer(contentsOf: ShapeFixtures.tokenizerPath("llama3"))
        let begin = try #require(llama3.specialTokens["<|begin_of_text|>"])
        #expect(llama3.specialTokensAround.before == [begin] && llama3.specialTokensAround.after.isEmpty)
        #expect(llama3.endOfText == llama3.specialTokens["<|end_of_text|>"])
        let llama2 = try BPETokenizer(contentsOf: ShapeFixtures.tokenizerPath("llama2"))
        #expect(llama2.specialTokensAround.before == [try #require(llama2.specialTokens["<s>"])])
        for (shape, tokenizer) in [("llama3", llama3), ("llama2", llama2)] {
            for entry in try ShapeFixtures.cases(shape) {
                // Every case gains exactly the one token, in the library's ids.
                #expect(entry.idsWithSpecialTokens == tokenizer.specialTokensAround.before + entry.ids, "\(shape) \(entry.text.debugDescription)")
            }
        }
    }

    /// Every Split behavior (inverted or not), a pattern no scanner knows, Metaspace's prepend
    /// schemes, more normalizers and decoders, behind the fixtures' vocabularies.
    @Test func componentVariantsMatchHuggingFace() throws {
        let variants = try ShapeFixtures.variants()
        #expect(variants.count == 50)
        for variant in variants {
            let file = try TokenizerFile(object: variant.object, path: variant.name)
            let tokenizer = try BPETokenizer(file, path: variant.name)
            for entry in variant.cases {
                try expectLibraryResults(tokenizer, entry, "\(variant.name): \(entry.text.debugDescription)")
            }
            // What is written reads back the same.
            #expect(try TokenizerFile(json: Data(file.json().utf8), path: "again.json") == file, "\(variant.name)")
        }
    }

    @Test func batchEncodingKeepsOrderOnAnyThreadCount() throws {
        let tokenizer = try BPETokenizer(contentsOf: TokenizerFixtures.tokenizerPath)
        let cases = try TokenizerFixtures.cases()
        var documents: [String] = []
        var expected: [[Int32]] = []
        for round in 0..<20 {
            for entry in (round % 2 == 0 ? cases : cases.reversed()) where round % 2 == 0 || !entry.text.isEmpty {
                documents.append(entry.text)
                expected.append(entry.ids)
            }
        }
        for threads in [1, 2, 3, 7, 1000] {
            #expect(tokenizer.encode(documents, threads: threads) == expected)
        }
        #expect(tokenizer.encode([String](), threads: 4).isEmpty)
    }

    @Test func bothMergeFormatsGiveTheSameIds() throws {
        // Ids 0–255 are the bytes; 256 = "ab", 257 = "abc", 258 = "Ġa", 259 = "Ġab".
        // "abc ab" → words "abc", " ab" → [abc] [Ġab].
        let vocabulary = ["ab", "abc", "Ġa", "Ġab"]
        let strings = tinyTokenizerJSON(vocabulary: vocabulary, merges: #"["Ġ a", "a b", "ab c", "Ġa b"]"#)
        let pairs = tinyTokenizerJSON(
            vocabulary: vocabulary, merges: #"[["Ġ", "a"], ["a", "b"], ["ab", "c"], ["Ġa", "b"]]"#)
        for json in [strings, pairs] {
            let tokenizer = try tinyTokenizer(json)
            #expect(tokenizer.encode("abc ab") == [257, 259])
            #expect(tokenizer.encode("abd") == [256, 100])
            #expect(try tokenizer.decode([257, 259]) == "abc ab")
        }
    }

    @Test func lowerRankMergesFirstAndLeftmostAmongEquals() throws {
        // Merges "b c" (rank 0) before "a b" (rank 1): "abc" → [a][bc], not [ab][c].
        let tokenizer = try tinyTokenizer(tinyTokenizerJSON(vocabulary: ["bc", "ab"], merges: #"["b c", "a b"]"#))
        #expect(tokenizer.encode("abc") == [97, 256])
        #expect(tokenizer.encode("abab") == [257, 257])
        // "aaa" with "a a": the leftmost pair merges first → [aa][a].
        let repeated = try tinyTokenizer(tinyTokenizerJSON(vocabulary: ["aa"], merges: #"["a a"]"#))
        #expect(repeated.encode("aaa") == [256, 97])
    }

    @Test func addedTokensFollowStripAndSingleWordFlags() throws {
        let added = """
        [{"id": 300, "content": "<eot>", "single_word": false, "lstrip": true, "rstrip": false, "normalized": false, "special": true},
         {"id": 301, "content": "<sep>", "single_word": false, "lstrip": false, "rstrip": true, "normalized": false, "special": true},
         {"id": 302, "content": "cat", "single_word": true, "lstrip": false, "rstrip": false, "normalized": true, "special": false},
         {"id": 303, "content": "  ", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": false}]
        """
        let tokenizer = try tinyTokenizer(tinyTokenizerJSON(vocabulary: [], merges: "[]", addedTokens: added))
        // Like the `tokenizers` library, added tokens missing from the vocabulary are numbered
        // from the vocabulary's size (256) up, whatever ids the file gives them.
        // lstrip: the spaces before <eot> go with it.
        #expect(tokenizer.encode("a  <eot>b") == [97, 256, 98])
        // rstrip: the spaces after <sep> go with it.
        #expect(tokenizer.encode("a<sep>  b") == [97, 257, 98])
        // single_word: "cat" alone is the added token, inside "cats" or "bobcat" it is not.
        #expect(tokenizer.encode("a cat.") == [97, 32, 258, 46])
        #expect(tokenizer.encode("cats") == [99, 97, 116, 115])
        #expect(tokenizer.encode("bobcat") == [98, 111, 98, 99, 97, 116])
        // A run of two spaces is an added token (as in GPT-NeoX); the third space is text.
        #expect(tokenizer.encode("a   b") == [97, 259, 32, 98])
        #expect(try tokenizer.decode([97, 259, 32, 98]) == "a   b")
        #expect(tokenizer.specialTokens == ["<eot>": 256, "<sep>": 257])
    }

    @Test func nfcComposesDecomposedAccentsWhenAsked() throws {
        // é composed is C3 A9 → bytes 195, 169; decomposed is e + U+0301 (CC 81).
        let decomposed = "caf\u{65}\u{301}"
        let nfc = try tinyTokenizer(tinyTokenizerJSON(vocabulary: [], merges: "[]", normalizer: #"{"type": "NFC"}"#))
        #expect(nfc.encode(decomposed) == [99, 97, 102, 195, 169])
        // Hangul LV syllable U+C5B4 + trailing jamo U+11B2 → U+C5BF (EC 96 BF).
        #expect(nfc.encode("\u{C5B4}\u{11B2}") == [236, 150, 191])
        let plain = try tinyTokenizer(tinyTokenizerJSON(vocabulary: [], merges: "[]"))
        #expect(plain.encode(decomposed) == [99, 97, 102, 101, 204, 129])
    }

    @Test func prefixSpaceIsAddedWhenAsked() throws {
        let tokenizer = try tinyTokenizer(tinyTokenizerJSON(vocabulary: [], merges: "[]", addPrefixSpace: true))
        // Ids 0–255 are the bytes, so the prefix space is id 32.
        #expect(tokenizer.encode("a") == [32, 97])
        #expect(tokenizer.encode(" a") == [32, 97])
        #expect(tokenizer.encode("a<|x|>") == [32, 97, 60, 124, 120, 124, 62])
    }

    @Test func filesThatAreNotByteLevelBPEAreRefusedByKey() throws {
        let good = tinyTokenizerJSON(vocabulary: [], merges: "[]")
        let byteLevel = #""pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},"#
        let cases: [(String, String)] = [
            (good.replacingOccurrences(of: #""type": "BPE""#, with: #""type": "WordPiece""#), "model.type"),
            (good.replacingOccurrences(of: #""pre_tokenizer": {"type": "ByteLevel""#, with: #""pre_tokenizer": {"type": "Whitespace""#), "pre_tokenizer"),
            (good.replacingOccurrences(of: #""normalizer": null"#, with: #""normalizer": {"type": "BertNormalizer"}"#), "normalizer"),
            (good.replacingOccurrences(of: #""decoder": {"type": "ByteLevel"}"#, with: #""decoder": {"type": "WordPiece"}"#), "decoder"),
            (good.replacingOccurrences(of: #""post_processor": null"#, with: #""post_processor": {"type": "TemplateProcessing"}"#), "post_processor.single"),
            (good.replacingOccurrences(of: #""post_processor": null"#, with: #""post_processor": {"type": "ByteLevelish"}"#), "post_processor"),
            (good.replacingOccurrences(of: #""post_processor": null"#, with: template(single: "[\(bos), \(a)]", pair: "[\(bos), \(a), \(b)]", ids: "[256]")), "which is not a token"),
            (good.replacingOccurrences(of: #""post_processor": null"#, with: template(single: "[\(bos), \(b)]", pair: "[\(bos), \(a), \(b)]")), "post_processor.single[1]"),
            (good.replacingOccurrences(of: #""post_processor": null"#, with: template(single: "[\(bos)]", pair: "[\(bos), \(a), \(b)]")), "post_processor.single"),
            (good.replacingOccurrences(of: #""post_processor": null"#, with: template(single: "[\(a)]", pair: "[\(bos), \(a)]")), "post_processor.pair"),
            (good.replacingOccurrences(of: #""post_processor": null"#, with: template(single: #"[{"SpecialToken": {"id": "<eos>", "type_id": 0}}, \#(a)]"#, pair: "[\(a), \(b)]")), "post_processor.single[0]"),
            (good.replacingOccurrences(of: #""post_processor": null"#, with: template(single: "[\(a)]", pair: "[\(a), \(b)]", ids: #"["x"]"#)), "post_processor.special_tokens[\"<bos>\"].ids[0]"),
            (good.replacingOccurrences(of: #""post_processor": null"#, with: #""post_processor": {"type": "Sequence", "processors": ["# + processor(single: "[\(bos), \(a)]", pair: "[\(a), \(b)]") + ", " + processor(single: "[\(bos), \(a)]", pair: "[\(a), \(b)]") + "]}"), "'post_processor' holds more than one"),
            (good.replacingOccurrences(of: #""post_processor": null"#, with: #""post_processor": {"type": "BertProcessing", "sep": ["a", 97], "cls": "b"}"#), "post_processor.cls"),
            (good.replacingOccurrences(of: byteLevel, with: #""pre_tokenizer": {"type": "Split", "pattern": {"Regex": "("}, "behavior": "Isolated"},"#), "pre_tokenizer.pattern.Regex"),
            (good.replacingOccurrences(of: byteLevel, with: #""pre_tokenizer": {"type": "Split", "pattern": {"String": " "}, "behavior": "Sideways"},"#), "pre_tokenizer.behavior"),
            (tinyTokenizerJSON(vocabulary: [], merges: #"["a b"]"#), "model.merges[0]"),
            (tinyTokenizerJSON(vocabulary: [], merges: #"["a b c"]"#), "model.merges[0]"),
            ("[1, 2]", "not a JSON object"),
            ("{", "not valid JSON"),
        ]
        for (json, key) in cases {
            do {
                _ = try BPETokenizer(TokenizerFile(json: Data(json.utf8), path: "bad.json"), path: "bad.json")
                Issue.record("accepted a file with a bad \(key)")
            } catch let error as TokenizerError {
                #expect(error.description.hasPrefix("bad.json: "))
                #expect(error.description.contains(key), "\(error)")
            }
        }
        #expect(throws: TokenizerError.self) { try BPETokenizer(contentsOf: "/nonexistent/tokenizer.json") }
    }

    private let bos = #"{"SpecialToken": {"id": "<bos>", "type_id": 0}}"#
    private let a = #"{"Sequence": {"id": "A", "type_id": 0}}"#
    private let b = #"{"Sequence": {"id": "B", "type_id": 1}}"#

    /// A TemplateProcessing with `<bos>` standing for `ids`.
    private func processor(single: String, pair: String, ids: String = "[97]", tokens: String = #"["<bos>"]"#) -> String {
        #"{"type": "TemplateProcessing", "single": \#(single), "pair": \#(pair), "special_tokens": {"<bos>": {"id": "<bos>", "ids": \#(ids), "tokens": \#(tokens)}}}"#
    }

    private func template(single: String, pair: String, ids: String = "[97]", tokens: String = #"["<bos>"]"#) -> String {
        #""post_processor": "# + processor(single: single, pair: pair, ids: ids, tokens: tokens)
    }

    /// A template's tokens go around the text only when special tokens are asked for, the
    /// pair template orders the texts, and skipped tokens are the special ones only.
    @Test func templateAddsItsTokensWhenAsked() throws {
        var json = tinyTokenizerJSON(vocabulary: [], merges: "[]", addedTokens: #"[{"id": 256, "content": "<|x|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}]"#)
        json = json.replacingOccurrences(of: #""post_processor": null"#, with: template(
            single: "[\(bos), \(a), \(bos)]", pair: "[\(b), \(bos), \(a)]", ids: "[256, 98]", tokens: #"["<|x|>", "b"]"#))
        let tokenizer = try tinyTokenizer(json)
        // Ids 0–255 are the bytes; the special <|x|> is 256.
        #expect(tokenizer.specialTokensAround.before == [256, 98] && tokenizer.specialTokensAround.after == [256, 98])
        #expect(tokenizer.encode("z") == [256, 98, 122, 256, 98])
        #expect(tokenizer.encode("z", addSpecialTokens: false) == [122])
        #expect(tokenizer.encode("z", pair: "y") == [121, 256, 98, 122])
        #expect(tokenizer.encode("z", pair: "y", addSpecialTokens: false) == [121, 122])
        #expect(try tokenizer.decode([256, 98, 122]) == "<|x|>bz")
        #expect(try tokenizer.decode([256, 98, 122], skipSpecialTokens: true) == "bz")
        // The template does not end with the end-of-text id 256 (it ends with 98): added after.
        #expect(tokenizer.encodeDocument("z", endOfText: 256) == [256, 98, 122, 256, 98, 256])
        #expect(tokenizer.encodeDocument("z", endOfText: 98) == [256, 98, 122, 256, 98])
        let example = tokenizer.encodeExample(prompt: "p", completion: "c", endOfText: 98)
        #expect(example.ids == [256, 98, 112, 99, 256, 98] && example.promptCount == 3)
    }

    @Test func writtenFilesReadBackUnchanged() throws {
        let file = try TokenizerFile(contentsOf: TokenizerFixtures.tokenizerPath)
        let again = try TokenizerFile(json: Data(file.json().utf8), path: "again.json")
        #expect(again == file)
    }
}
