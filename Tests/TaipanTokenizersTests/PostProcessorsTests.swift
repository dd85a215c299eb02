import Testing
@testable import TaipanTokenizers

@Suite struct PostProcessorsTests {
    let cls = NamedTokenId("<s>", 0), sep = NamedTokenId("</s>", 2)

    @Test func robertaAndBertPutTheirTokensAroundOneTextOrTwo() throws {
        let roberta = try #require(try PostProcessor.roberta(cls: cls, sep: sep).specialTokenTemplate(key: "p"))
        #expect(roberta.apply([[7, 8]], addSpecialTokens: true) == [0, 7, 8, 2])
        #expect(roberta.apply([[7], [9]], addSpecialTokens: true) == [0, 7, 2, 2, 9, 2])
        #expect(roberta.apply([[7], [9]], addSpecialTokens: false) == [7, 9])
        let bert = try #require(try PostProcessor.bert(cls: cls, sep: sep).specialTokenTemplate(key: "p"))
        #expect(bert.apply([[7], [9]], addSpecialTokens: true) == [0, 7, 2, 9, 2])
        #expect(bert.around.before == [0] && bert.around.after == [2])
    }

    @Test func byteLevelAddsNothingAndASequenceTakesItsOneTemplate() throws {
        #expect(try PostProcessor.byteLevel.specialTokenTemplate(key: "p") == nil)
        let begin = TemplateSpecialToken(id: "<|begin_of_text|>", ids: [5, 6], tokens: ["<|begin_of_text|>", "x"])
        let llama = PostProcessor.sequence([.byteLevel, .template(
            single: [.specialToken("<|begin_of_text|>", typeId: 0), .sequence(0, typeId: 0)],
            pair: [], specialTokens: [begin])])
        let template = try #require(try llama.specialTokenTemplate(key: "p"))
        #expect(template.around.before == [5, 6] && template.around.after.isEmpty)
        // Without a pair template, $B follows the single one.
        #expect(template.apply([[1], [2]], addSpecialTokens: true) == [5, 6, 1, 2])
        #expect(template.ids == [5, 6, 5, 6])
    }

    @Test func unusableTemplatesNameTheirKey() {
        func failure(_ processor: PostProcessor) -> String {
            do {
                _ = try processor.specialTokenTemplate(key: "post_processor")
                return "accepted"
            } catch {
                return "'\(error.key)' \(error.reason)"
            }
        }
        let a = TemplatePiece.sequence(0, typeId: 0), b = TemplatePiece.sequence(1, typeId: 1)
        #expect(failure(.template(single: [a, a], pair: [a, b], specialTokens: [])) == "'post_processor.single' uses $A 2 times; exactly once is supported")
        #expect(failure(.template(single: [a], pair: [a, b, .specialToken("<x>", typeId: 0)], specialTokens: []))
            == "'post_processor.pair[2]' names \"<x>\", which is not in 'post_processor.special_tokens'")
        #expect(failure(.sequence([.roberta(cls: cls, sep: sep), .byteLevel, .bert(cls: cls, sep: sep)]))
            == "'post_processor' holds more than one post-processor that adds tokens; not supported")
    }
}
