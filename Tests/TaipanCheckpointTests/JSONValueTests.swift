import Foundation
import Testing

@testable import TaipanCheckpoint

@Suite struct JSONValueTests {
    func parse(_ text: String) throws -> JSONValue { try JSONValue.parse(Data(text.utf8)) }

    @Test func parsesEveryKindOfValue() throws {
        let value = try parse(#" {"a": [1, -2.5e3, true, false, null], "b": "x\"\\\/\n\u00e9\ud83d\ude00", "c": {}} "#)
        #expect(value["a"] == .array([.number("1"), .number("-2.5e3"), .bool(true), .bool(false), .null]))
        #expect(value["b"] == .string("x\"\\/\né😀"))
        #expect(value["c"] == .object([]))
        #expect(JSONValue.number("-2.5e3").doubleValue == -2500)
    }

    @Test func integersStayExact() throws {
        #expect(try parse("9223372036854775807").integerValue == Int.max)
        #expect(try parse("9007199254740993").integerValue == 9_007_199_254_740_993)
        #expect(try parse("2.0").integerValue == nil)
        #expect(try parse("1e3").integerValue == nil)
        #expect(try parse("99999999999999999999").integerValue == nil)
    }

    @Test func objectsKeepFileOrder() throws {
        guard case .object(let members) = try parse(#"{"z": 1, "a": 2, "m": 3}"#) else {
            Issue.record("not an object")
            return
        }
        #expect(members.map(\.key) == ["z", "a", "m"])
    }

    @Test func rejectsInvalidText() {
        let invalid = [
            "", "{", "[1,]", "{\"a\" 1}", "01", "1.", "-", "1e", "tru", "\"abc", "\"\u{01}\"", "{} x",
            "\"\\x\"", "\"\\ud800\"", "[1 2]", "{\"a\":1,}", "NaN",
        ]
        for text in invalid {
            #expect(throws: JSONParseError.self, "\(text)") { try parse(text) }
        }
        #expect(throws: JSONParseError(message: "duplicate key \"a\"", offset: 9)) { try parse(#"{"a": 1, "a": 2}"#) }
        #expect(throws: JSONParseError.self) { try parse(String(repeating: "[", count: 1000)) }
    }

    @Test func serializesCompactAndIndented() throws {
        let value = JSONValue.object([
            (key: "b", value: .array([.integer(1), .double(1e-05), .double(0.1)])),
            (key: "a", value: .string("tab\there \"q\"\u{01}")),
            (key: "e", value: .array([])),
        ])
        #expect(value.serialized() == #"{"b":[1,1e-05,0.1],"a":"tab\there \"q\"\u0001","e":[]}"#)
        #expect(value.serialized(indented: true) == """
            {
              "b": [
                1,
                1e-05,
                0.1
              ],
              "a": "tab\\there \\"q\\"\\u0001",
              "e": []
            }
            """)
        #expect(try parse(value.serialized()) == value)
    }
}
