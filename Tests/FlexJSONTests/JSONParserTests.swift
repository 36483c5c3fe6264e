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

    /// Strings without escapes: ASCII ones take a path without UTF-8 validation, the others are
    /// validated, with or without escapes.
    @Test func validatesUTF8InStrings() throws {
        let cases: [([UInt8], JSONValue?)] = [
            (Array(#""plain ascii""#.utf8), .string("plain ascii")),
            (Array(#""é and 😀""#.utf8), .string("é and 😀")),
            (Array(#""tab\tafter""#.utf8), .string("tab\tafter")),
            ([0x22, 0x61, 0xC3, 0x28, 0x22], nil),  // a lead byte without its continuation
            ([0x22, 0xFF, 0x22], nil),
            ([0x22, 0x5C, 0x6E, 0xED, 0xA0, 0x80, 0x22], nil),  // after an escape: an encoded surrogate
        ]
        for (bytes, expected) in cases {
            let buffer = ByteBuffer(bytes: bytes)
            if let expected {
                #expect(try JSONParser.parse(buffer.readableBytesView) == expected)
            } else {
                #expect(throws: JSONParser.Error.self) { try JSONParser.parse(buffer.readableBytesView) }
            }
        }
    }

    @Test func surrogatePairs() throws {
        #expect(try JSONParser.parse(#""\ud83d\ude00""#) == .string("😀"))
    }
}
