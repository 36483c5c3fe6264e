import FlexJSON
import NIOCore
import Testing

/// `parseObject(_:keeping:)` builds only the members it is asked for, and must accept and refuse
/// exactly the documents `parse` does (numbers out of a `Double`'s range aside).
@Suite struct JSONParserKeepingTests {
    @Test func keepsOnlyTheNamedMembersInFull() throws {
        let text =
            #"{"id": "x", "usage": {"prompt_tokens": 12, "details": [1, {"a": null}]}, "choices": [{"text": "h\u00e9"}], "service_tier": "flex"}"#
        let object = try JSONParser.parseObject(Array(text.utf8), keeping: ["service_tier", "usage"])
        #expect(object.keys == ["usage", "service_tier"])
        #expect(object["usage"] == (try JSONParser.parse(text))["usage"])
        #expect(object["service_tier"] == .string("flex"))
    }

    @Test func readsAByteBufferAndMatchesEscapedKeys() throws {
        let buffer = ByteBuffer(string: #"{"us\u0061ge": 3, "usage": 4}"#)
        let object = try JSONParser.parseObject(buffer.readableBytesView, keeping: ["usage"])
        #expect(object.fields.map(\.value) == [.int(3), .int(4)])
    }

    @Test(arguments: ["[1]", "\"usage\"", "3", "null"])
    func refusesADocumentThatIsNotAnObject(_ text: String) {
        #expect(throws: JSONParser.Error.self) { try JSONParser.parseObject(Array(text.utf8), keeping: ["usage"]) }
    }

    @Test func integersAreExactToTheEdgesOfInt64() throws {
        let text =
            #"{"max": 9223372036854775807, "min": -9223372036854775808, "over": 9223372036854775808, "zero": -0}"#
        let object = try JSONParser.parse(text)
        #expect(object["max"] == .int(.max))
        #expect(object["min"] == .int(.min))
        #expect(object["over"] == .double(9_223_372_036_854_775_808))
        #expect(object["zero"] == .int(0))
    }

    /// Every seed, and every one-byte change and truncation of it: both parsers agree on whether it
    /// is a JSON object, and on the members kept.
    @Test func agreesWithTheFullParserOnEveryMutation() {
        let changed = forEachMutation(of: Self.seeds, replacements: Self.replacements) { Self.compare($0) }
        #expect(changed > 10_000)
    }

    @Test(
        arguments: [
            [0xC3, 0xA9], [0xE2, 0x82, 0xAC], [0xF0, 0x9F, 0x98, 0x80], [0xF4, 0x8F, 0xBF, 0xBF], [0xEF, 0xBF, 0xBF],
            [0xC0, 0x80], [0xC1, 0xBF], [0xE0, 0x80, 0x80], [0xE0, 0x9F, 0xBF], [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF],
            [0xF0, 0x80, 0x80, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xFF], [0x80], [0xC3],
            [0xE2, 0x82], [0xC3, 0x28], [0xE2, 0x28, 0xAC],
        ] as [[UInt8]]
    )
    func checksUTF8InSkippedStringsAsTheFullParserDoes(_ sequence: [UInt8]) {
        for wrapped in [sequence, Array("a".utf8) + sequence + Array("\\n".utf8), Array("\\t".utf8) + sequence] {
            Self.compare(Array(#"{"skipped": ""#.utf8) + wrapped + Array(#"", "usage": 1}"#.utf8))
            Self.compare(Array(#"{"s\u00e9": 1, ""#.utf8) + wrapped + Array(#"": ["x"]}"#.utf8))
        }
    }

    /// Skipped strings are read a word (8 bytes) at a time while they hold plain ASCII: a byte
    /// that needs a look (quote, backslash, control, non-ASCII) at any position of any word, and
    /// at the string's end, is found as the byte loop finds it.
    @Test(
        arguments: [
            [0x22], [0x5C, 0x6E], [0x5C, 0x75, 0x30, 0x30, 0x65, 0x39], [0x5C, 0x78], [0x1F], [0x00], [0x7F],
            [0x80], [0xC3, 0xA9], [0xC3], [0xE2, 0x82, 0xAC], [0xED, 0xA0, 0x80],
        ] as [[UInt8]]
    )
    func findsASpecialByteWhereverItFallsInALongSkippedString(_ special: [UInt8]) {
        for length in [7, 8, 9, 16, 23, 24, 31] {
            for position in 0...length {
                var text = Array(repeating: UInt8(ascii: "a"), count: length)
                text.insert(contentsOf: special, at: position)
                Self.compare(Array(#"{"skipped": ""#.utf8) + text + Array(#"", "usage": 1}"#.utf8))
            }
        }
    }

    private static let seeds = [
        #"{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"h\u00e9 \"q\" \\ \/ \b\f\n\r\t \ud83d\ude00 é"},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":0}},"service_tier":"flex"}"#,
        #" { "usage" : [ -0.5e+3 , 1E2 , 0 , -12 , true , false , null , { } , [ ] ] , "x" : { "a" : { "b" : [ "c" ] } } } "#,
        #"{"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":7},"candidates":[{"content":{"parts":[{"text":"ok"}]}}]}"#,
    ]

    private static let replacements: [UInt8] = [
        0x22, 0x5C, 0x7B, 0x7D, 0x5B, 0x5D, 0x2C, 0x3A, 0x00, 0x1F, 0x20, 0x80, 0xC3, 0xED, 0xF5, 0x75, 0x30, 0x2D,
        0x65, 0x2E, 0x6E, 0x74,
    ]

    private static func compare(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        let keys = ["usage", "usageMetadata", "sé"]
        let full: JSONObject?
        do {
            let value = try JSONParser.parse(bytes)
            full = value.object
        } catch {
            // A number beyond a Double is refused by `parse` alone: not a disagreement.
            if error.reason == "number out of range" { return }
            full = nil
        }
        let kept = try? JSONParser.parseObject(bytes, keeping: keys)
        let expected = full.map { JSONObject($0.fields.filter { keys.contains($0.key) }) }
        #expect(
            kept == expected,
            "\(String(decoding: bytes, as: UTF8.self).debugDescription)",
            sourceLocation: sourceLocation
        )
    }
}
