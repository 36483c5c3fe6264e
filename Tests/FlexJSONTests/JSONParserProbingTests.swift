import FlexJSON
import NIOCore
import Testing

/// `parseObject(_:keeping:probing:)` answers each probe as the full parse would (`JSONValue.contains`)
/// without building it, and accepts and refuses exactly what `parse` does.
@Suite struct JSONParserProbingTests {
    static let chunkProbes = [
        JSONProbe(.member("choices"), .anyElement, .member("delta"), .member("content")),
        JSONProbe(.member("choices"), .anyElement, .member("delta"), .member("tool_calls")),
        JSONProbe(.member("choices")),
        JSONProbe(.member("missing"), .member("deeper")),
        JSONProbe(.member("choices"), .anyElement, .member("delta"), .member("content"), matching: .nonEmptyString),
        JSONProbe(.member("choices"), matching: .nonEmptyArray),
        JSONProbe(.member("choices"), .anyElement, .member("delta"), matching: .nonEmptyObject),
        JSONProbe(.member("missing"), matching: .nonEmptyObject),
    ]

    @Test func answersProbesAndKeepsMembers() throws {
        let text =
            #"{"id":"c1","service_tier":"flex","choices":[{"index":0,"delta":{"content":""}},{"index":1,"delta":{"content":"hi"}}],"usage":null}"#
        let (members, found) = try JSONParser.parseObject(
            Array(text.utf8),
            keeping: ["service_tier", "usage"],
            probing: Self.chunkProbes
        )
        #expect(members.keys == ["service_tier", "usage"])
        #expect(members["service_tier"] == .string("flex"))
        #expect(found[0], "the second choice has text")
        #expect(!found[1])
        #expect(found[2])
        #expect(!found[3])
        #expect(found[4] && found[5] && found[6] && !found[7])
    }

    @Test func keptStringsEqualToAKnownOneAreTheSameAndOthersAreTheirOwn() throws {
        let known = ["content_block_delta", "response.output_text.delta"]
        let text =
            #"{"type":"content_block_delta","other":"content_block_deltb","nested":{"t":"response.output_text.delta","e":"content_block_delta"},"delta":{"text":"x"}}"#
        let (members, found) = try JSONParser.parseObject(
            Array(text.utf8),
            keeping: ["type", "other", "nested"],
            probing: [JSONProbe(.member("delta"), .member("text"))],
            reusing: known
        )
        #expect(members["type"] == .string("content_block_delta"))
        #expect(members["other"] == .string("content_block_deltb"))
        #expect(
            members["nested"]
                == .object(["t": .string("response.output_text.delta"), "e": .string("content_block_delta")])
        )
        #expect(found[0])
        // The same answer as without known strings.
        let plain = try JSONParser.parseObject(
            Array(text.utf8),
            keeping: ["type", "other", "nested"],
            probing: [JSONProbe(.member("delta"), .member("text"))]
        )
        #expect(plain.members == members)
    }

    @Test func aMatchAcceptsOnlyItsKindOfValue() throws {
        let probes = [
            JSONProbe(.member("a"), matching: .nonEmptyString), JSONProbe(.member("a"), matching: .nonEmptyArray),
            JSONProbe(.member("a"), matching: .nonEmptyObject), JSONProbe(.member("a")),
        ]
        for (text, expected) in [
            (#"{"a":"x"}"#, [true, false, false, true]), (#"{"a":[1]}"#, [false, true, false, true]),
            (#"{"a":{"b":1}}"#, [false, false, true, true]), (#"{"a":7}"#, [false, false, false, true]),
            (#"{"a":""}"#, [false, false, false, false]), (#"{"a":[]}"#, [false, false, false, false]),
            (#"{"a":null}"#, [false, false, false, false]), (#"{"b":"x"}"#, [false, false, false, false]),
        ] {
            let (_, found) = try JSONParser.parseObject(Array(text.utf8), keeping: [], probing: probes)
            #expect(probes.indices.map { found[$0] } == expected, "\(text)")
            // The reference the mutation test below and the fuzz target compare against.
            let value = try JSONParser.parse(text)
            #expect(probes.map { value.contains($0) } == expected, "\(text)")
        }
    }

    @Test(arguments: [
        (#"{"choices":[]}"#, false), (#"{"choices":{}}"#, false), (#"{"choices":null}"#, false),
        (#"{"choices":false}"#, false), (#"{"choices":""}"#, false), (#"{"choices":[ ]}"#, false),
        (#"{"choices":0}"#, true), (#"{"choices":true}"#, true), (#"{"choices":"x"}"#, true),
        (#"{"choices":[null]}"#, true), (#"{"choices":{"a":1}}"#, true), (#"{"choices":"\""}"#, true),
    ])
    func aValueIsEmptyOnlyWhenNullFalseOrAnEmptyStringArrayOrObject(_ text: String, _ nonEmpty: Bool) throws {
        let (_, found) = try JSONParser.parseObject(Array(text.utf8), keeping: [], probing: [Self.chunkProbes[2]])
        #expect(found[0] == nonEmpty)
    }

    @Test func matchesEscapedKeysAtEveryLevel() throws {
        let buffer = ByteBuffer(string: #"{"ch\u006fices":[{"d\u0065lta":{"content":"x"}}]}"#)
        let (_, found) = try JSONParser.parseObject(buffer.readableBytesView, keeping: [], probing: Self.chunkProbes)
        #expect(found[0])
    }

    @Test func aProbeUnderAKeptMemberIsNotAnswered() throws {
        let (members, found) = try JSONParser.parseObject(
            Array(#"{"choices":[{"delta":{"content":"x"}}]}"#.utf8),
            keeping: ["choices"],
            probing: Self.chunkProbes
        )
        #expect(members["choices"] != nil)
        #expect(found.bits == 0)
    }

    /// Every seed, and every one-byte change and truncation of it: the probing parse accepts what
    /// `parse` accepts, and its answers and kept members are what the full value says.
    @Test func agreesWithTheFullParserOnEveryMutation() {
        let changed = forEachMutation(of: Self.seeds, replacements: Self.replacements) { Self.compare($0) }
        #expect(changed > 6_000)
    }

    private static let seeds = [
        #"{"id":"chatcmpl-1","object":"chat.completion.chunk","service_tier":"flex","choices":[{"index":0,"delta":{"role":"assistant","content":"h\u00e9 \"q\""},"logprobs":null,"finish_reason":null},{"index":1,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}],"usage":{"prompt_tokens":3}}"#,
        #" { "missing" : { "deeper" : [ 1 , { } ] , "x" : true } , "choices" : [ [ ] , { "delta" : { "content" : "" } } ] } "#,
    ]

    private static let replacements: [UInt8] = [
        0x22, 0x5C, 0x7B, 0x7D, 0x5B, 0x5D, 0x2C, 0x3A, 0x00, 0x20, 0x80, 0xC3, 0x30, 0x6E, 0x66, 0x74,
    ]

    private static func compare(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        let keys = ["usage", "service_tier"]
        let full: JSONObject?
        do {
            full = try JSONParser.parse(bytes).object
        } catch {
            if error.reason == "number out of range" { return }
            full = nil
        }
        let probed = try? JSONParser.parseObject(bytes, keeping: keys, probing: Self.chunkProbes)
        let text = String(decoding: bytes, as: UTF8.self).debugDescription
        guard let full else {
            #expect(probed == nil, "\(text)", sourceLocation: sourceLocation)
            return
        }
        guard let probed else {
            Issue.record("refused a document the full parser accepts: \(text)", sourceLocation: sourceLocation)
            return
        }
        #expect(
            probed.members == JSONObject(full.fields.filter { keys.contains($0.key) }),
            sourceLocation: sourceLocation
        )
        for (index, probe) in Self.chunkProbes.enumerated() {
            let expected = JSONValue.object(full).contains(probe)
            #expect(probed.probes[index] == expected, "probe \(index) of \(text)", sourceLocation: sourceLocation)
        }
    }
}
