import FlexJSON
import Foundation
import NIOCore
import Testing

@Suite struct JSONParserTests {
    @Test func parsesAndKeepsKeyOrder() throws {
        let value = try JSONParser.parse(
            #"{"b": 1, "a": [true, null, -2.5e1, "x\u00e9\n"], "c": {"d": 9007199254740993}}"#
        )
        #expect(value.object?.keys == ["b", "a", "c"])
        #expect(value["a"]?.array?[2] == .double(-25))
        #expect(value["a"]?.array?[3] == .string("xé\n"))
        #expect(value["c"]?["d"] == .int(9_007_199_254_740_993))
        #expect(value.jsonString == #"{"b":1,"a":[true,null,-25.0,"xé\n"],"c":{"d":9007199254740993}}"#)
    }

    @Test(arguments: [
        "", "{", "{\"a\":}", "[1,]", "01", "\"\\x\"", "{\"a\":1} x", "\"\u{01}\"", "nul", "1.", "\"\\ud800\"",
    ])
    func rejectsMalformedInput(_ text: String) {
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse(text) }
    }

    @Test func limitsNesting() {
        let deep = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse(deep) }
    }

    @Test func surrogatePairs() throws {
        #expect(try JSONParser.parse(#""\ud83d\ude00""#) == .string("😀"))
    }
}
