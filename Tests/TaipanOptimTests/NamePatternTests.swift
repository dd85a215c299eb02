import Testing
@testable import TaipanOptim

@Suite struct NamePatternTests {
    @Test func wildcardsMatchWholeNames() {
        #expect(NamePattern("*.A_log").matches("backbone.layers.3.mixer.A_log"))
        #expect(!NamePattern("*.A_log").matches("backbone.layers.3.mixer.A_log2"))
        #expect(NamePattern("*norm*").matches("backbone.norm_f.weight"))
        #expect(NamePattern("*norm*").matches("backbone.layers.0.norm.weight"))
        #expect(!NamePattern("*norm*").matches("backbone.layers.0.mixer.in_proj.weight"))
        #expect(NamePattern("*bias").matches("backbone.layers.0.mixer.dt_proj.bias"))
        #expect(NamePattern("backbone.layers.0.*").matches("backbone.layers.0.mixer.D"))
        #expect(!NamePattern("backbone.layers.0.*").matches("backbone.layers.10.mixer.D"))
        #expect(NamePattern("lm_head.weight").matches("lm_head.weight"))
        #expect(!NamePattern("lm_head").matches("lm_head.weight"))
        #expect(NamePattern("*").matches(""))
        #expect(NamePattern("eval.*").matches("eval.interval") && !NamePattern("eval.*").matches("train.max_steps"))
        #expect(NamePattern("a*b*c").matches("abc") && NamePattern("a*b*c").matches("axxbyyc") && !NamePattern("a*b*c").matches("acb"))
    }
}
