import FlexJSON
import NIOCore
import Testing

/// `splitObject(_:keeping:)` builds the members it is asked for and says where the others are:
/// the runs it returns, joined by commas inside braces, must be exactly the other members, in order,
/// and it must accept and refuse exactly the objects `parse` does (numbers out of a `Double`'s range
/// aside).
@Suite struct JSONParserSplittingTests {
    @Test func keepsTheNamedMembersAndFindsTheRunsOfTheOthers() throws {
        let text = #" { "a" : 1 , "model":"m", "b": [2, {"c": null}] ,"c":"h\u00e9", "stream": true , "d": {} } "#
        let bytes = Array(text.utf8)
        let split = try JSONParser.splitObject(bytes, keeping: ["model", "stream"])
        #expect(split.kept.keys == ["model", "stream"])
        #expect(split.kept["stream"] == .bool(true))
        let runs = split.others.map { String(decoding: bytes[$0], as: UTF8.self) }
        #expect(runs == [#""a" : 1"#, #""b": [2, {"c": null}] ,"c":"h\u00e9""#, #""d": {}"#])
    }

    @Test func everyOccurrenceOfAKeptKeyIsKeptEvenEscaped() throws {
        let bytes = Array(#"{"x": 0, "mod\u0065l": "a", "y": 1, "model": "b"}"#.utf8)
        let split = try JSONParser.splitObject(bytes, keeping: ["model"])
        #expect(split.kept.fields.map(\.value) == [.string("a"), .string("b")])
        #expect(split.others.map { String(decoding: bytes[$0], as: UTF8.self) } == [#""x": 0"#, #""y": 1"#])
    }

    @Test func anEmptyObjectAndAnObjectOfKeptMembersHaveNoRuns() throws {
        #expect(try JSONParser.splitObject(Array("{}".utf8), keeping: ["model"]).others.isEmpty)
        #expect(try JSONParser.splitObject(Array(#"{"model": 1}"#.utf8), keeping: ["model"]).others.isEmpty)
        let all = try JSONParser.splitObject(Array(#"{"a": 1}"#.utf8), keeping: [])
        #expect(all.kept.fields.isEmpty && all.others == [1..<7])
    }

    @Test func rangesAreOffsetsIntoTheReadableBytesOfAByteBuffer() throws {
        var buffer = ByteBuffer(string: "xx" + #"{"model": "m", "messages": []}"#)
        buffer.moveReaderIndex(forwardBy: 2)
        let split = try JSONParser.splitObject(buffer.readableBytesView, keeping: ["model"])
        let run = try #require(split.others.first)
        #expect(buffer.getString(at: buffer.readerIndex + run.lowerBound, length: run.count) == #""messages": []"#)
    }

    /// A body put back together from a rewritten object and the runs: the runs go after the
    /// object's own members, with a comma only where the object has some.
    @Test func appendedRunsFollowTheObjectsMembers() throws {
        let bytes = Array(#"{"model": "m", "a": [1], "stream": true, "b": "x"}"#.utf8)
        let split = try JSONParser.splitObject(bytes, keeping: ["model", "stream"])
        for (kept, expected) in [
            (JSONObject(), #"{"a": [1],"b": "x"}"#), (split.kept, #"{"model":"m","stream":true,"a": [1],"b": "x"}"#),
        ] {
            var buffer = ByteBuffer()
            JSONValue.object(kept).write(into: &buffer)
            bytes.withUnsafeBytes { raw in
                for run in split.others {
                    JSONValue.appendMembers(UnsafeRawBufferPointer(rebasing: raw[run]), toObjectIn: &buffer)
                }
            }
            #expect(String(buffer: buffer) == expected)
        }
    }

    @Test(arguments: ["[1]", "\"model\"", "3", "null", "{", #"{"a" 1}"#, #"{"a": 1,}"#, "{} x"])
    func refusesWhatIsNotOneObject(_ text: String) {
        #expect(throws: JSONParser.Error.self) { try JSONParser.splitObject(Array(text.utf8), keeping: ["model"]) }
    }

    /// Every seed, and every one-byte change and truncation of it: the split agrees with the full
    /// parser on whether it is a JSON object, on the members kept, and its runs are the others.
    @Test func agreesWithTheFullParserOnEveryMutation() {
        let changed = forEachMutation(of: Self.seeds, replacements: Self.replacements) { Self.compare($0) }
        #expect(changed > 4_000)
    }

    private static let seeds = [
        #"{"model":"gpt-5.4-mini","messages":[{"role":"user","content":"h\u00e9 \"q\" \\ \/ \b\f\n\r\t \ud83d\ude00 é"}],"stream":true,"stream_options":{"include_usage":true},"max_tokens":64}"#,
        #" { "contents" : [ -0.5e+3 , 1E2 , 0 , true , null , { } , [ ] ] , "model" : { "a" : [ "c" ] } , "x" : 1 } "#,
    ]

    private static let replacements: [UInt8] = [
        0x22, 0x5C, 0x7B, 0x7D, 0x5B, 0x5D, 0x2C, 0x3A, 0x00, 0x20, 0x80, 0xC3, 0x75, 0x30, 0x2D, 0x65, 0x6E,
    ]

    private static func compare(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        let keys = ["model", "stream", "stream_options"]
        let full: JSONObject?
        do {
            full = try JSONParser.parse(bytes).object
        } catch {
            // A number beyond a Double is refused by `parse` alone: not a disagreement.
            if error.reason == "number out of range" { return }
            full = nil
        }
        let split = try? JSONParser.splitObject(bytes, keeping: keys)
        let description = String(decoding: bytes, as: UTF8.self).debugDescription
        guard let full, let split else {
            #expect(full == nil && split == nil, "\(description)", sourceLocation: sourceLocation)
            return
        }
        #expect(split.kept == JSONObject(full.fields.filter { keys.contains($0.key) }), sourceLocation: sourceLocation)
        let joined = "{" + split.others.map { String(decoding: bytes[$0], as: UTF8.self) }.joined(separator: ",") + "}"
        let others = try? JSONParser.parse(joined).object
        #expect(
            others == JSONObject(full.fields.filter { !keys.contains($0.key) }),
            "\(description) → \(joined.debugDescription)",
            sourceLocation: sourceLocation
        )
    }
}
