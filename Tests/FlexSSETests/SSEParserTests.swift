import FlexSSE
import Testing

/// Every case is checked three ways: all input at once, byte by byte, and in seeded random splits.
/// The parser's output must not depend on where the input was split.
@Suite struct SSEParserTests {
    // MARK: Line ends

    @Test(arguments: ["\n", "\r\n", "\r"])
    func eachLineEndTerminatesLinesAndEvents(lineEnd: String) throws {
        let input = "data: one\(lineEnd)\(lineEnd)data: two\(lineEnd)\(lineEnd)"
        try expectEvents(input, [.init(data: "one"), .init(data: "two")])
    }

    @Test func mixedLineEndsInOneStream() throws {
        try expectEvents(
            "data: a\r\ndata: b\rdata: c\n\r\n",
            [.init(data: "a\nb\nc")]
        )
    }

    @Test func anEventLentToAClosureHasTheTypeDataAndIDNextGives() throws {
        var parser = SSEParser()
        parser.append(Array("event: a\nid: 7\ndata: x\ndata: y\n\n: note\ndata: z".utf8))
        parser.finish()
        var lent: [ServerSentEvent] = []
        while let event = try parser.next({ type, data, id in
            ServerSentEvent(event: type, dataBytes: Array(data), id: id)
        }) {
            lent.append(event)
        }
        #expect(lent == [ServerSentEvent(event: "a", data: "x\ny", id: "7"), ServerSentEvent(data: "z", id: "7")])
    }

    @Test func carriageReturnThenLineFeedIsOneLineEndEvenWhenSplitBetweenThem() throws {
        var parser = SSEParser()
        parser.append(Array("data: x\r".utf8))
        #expect(try parser.next() == nil)
        parser.append(Array("\n".utf8))
        // Had the "\n" been a second line end, this blank line would have dispatched already.
        #expect(try parser.next() == nil)
        parser.append(Array("\r\n".utf8))
        #expect(try parser.next() == ServerSentEvent(data: "x"))
    }

    @Test func twoCarriageReturnsAreTwoLineEnds() throws {
        try expectEvents("data: x\r\r", [.init(data: "x")])
    }

    // MARK: Fields

    @Test func multiLineDataIsJoinedWithLineFeeds() throws {
        try expectEvents("data: first\ndata: second\ndata:third\n\n", [.init(data: "first\nsecond\nthird")])
    }

    @Test func eventFieldSetsTheTypeForOneEventOnly() throws {
        try expectEvents(
            "event: message_start\ndata: {}\n\ndata: plain\n\n",
            [.init(event: "message_start", data: "{}"), .init(event: "message", data: "plain")]
        )
    }

    @Test func emptyEventFieldMeansMessage() throws {
        try expectEvents("event:\ndata: x\n\n", [.init(event: "message", data: "x")])
    }

    /// A repeated type is kept from the previous event (built once): it must still follow every
    /// change, back and forth, and a block with no type or an `event:` without data in between.
    @Test func repeatedAndChangingTypesAreEachEventsOwn() throws {
        try expectEvents(
            "event: content_block_delta\ndata: 1\n\nevent: content_block_delta\ndata: 2\n\n"
                + "event: content_block_stop\ndata: 3\n\ndata: 4\n\nevent: content_block_delta\n\n"
                + "event: content_block_delta\ndata: 5\n\nevent: content_block_deltax\ndata: 6\n\n"
                + "event: content_block_delt\ndata: 7\n\nevent:\ndata: 8\n\nevent: content_block_delta\ndata: 9\n\n",
            [
                .init(event: "content_block_delta", data: "1"), .init(event: "content_block_delta", data: "2"),
                .init(event: "content_block_stop", data: "3"), .init(event: "message", data: "4"),
                .init(event: "content_block_delta", data: "5"), .init(event: "content_block_deltax", data: "6"),
                .init(event: "content_block_delt", data: "7"), .init(event: "message", data: "8"),
                .init(event: "content_block_delta", data: "9"),
            ]
        )
    }

    @Test func lastEventFieldWins() throws {
        try expectEvents("event: a\nevent: b\ndata: x\n\n", [.init(event: "b", data: "x")])
    }

    @Test func idPersistsUntilChangedAndEmptyIdClearsIt() throws {
        try expectEvents(
            "id: 7\ndata: a\n\ndata: b\n\nid\ndata: c\n\n",
            [.init(data: "a", id: "7"), .init(data: "b", id: "7"), .init(data: "c", id: nil)]
        )
    }

    @Test func idContainingNullIsIgnored() throws {
        try expectEvents(
            "id: 1\ndata: a\n\nid: 2\u{0}x\ndata: b\n\n",
            [.init(data: "a", id: "1"), .init(data: "b", id: "1")]
        )
    }

    @Test func idWithoutDataDispatchesNothingButSticks() throws {
        try expectEvents("id: 9\n\ndata: a\n\n", [.init(data: "a", id: "9")])
    }

    @Test func retryAcceptsOnlyAsciiDigits() throws {
        var parser = SSEParser()
        parser.append(Array("retry: 1500\n\n".utf8))
        #expect(try parser.next() == nil)
        #expect(parser.reconnectionTime == 1500)
        for invalid in ["retry: 15s\n", "retry: -1\n", "retry:\n", "retry: 1 5\n", "retry: 99999999999999999999999\n"] {
            parser.append(Array(invalid.utf8))
            #expect(try parser.next() == nil)
            #expect(parser.reconnectionTime == 1500, "\(invalid) must be ignored")
        }
        parser.append(Array("retry:20\n".utf8))
        #expect(try parser.next() == nil)
        #expect(parser.reconnectionTime == 20)
    }

    @Test func commentsAreIgnored() throws {
        try expectEvents(": keep-alive\n\n:\ndata: a\n: inside\ndata: b\n\n", [.init(data: "a\nb")])
    }

    @Test func fieldWithoutColonHasEmptyValue() throws {
        try expectEvents("data\n\ndata\ndata\n\n", [.init(data: ""), .init(data: "\n")])
    }

    @Test func onlyOneLeadingSpaceIsRemoved() throws {
        try expectEvents("data:  two spaces\ndata:none\n\n", [.init(data: " two spaces\nnone")])
    }

    @Test func colonsInTheValueAreKept() throws {
        try expectEvents(#"data: {"a":"b:c"}"# + "\n\n", [.init(data: #"{"a":"b:c"}"#)])
    }

    @Test func unknownFieldsAreIgnored() throws {
        try expectEvents("foo: bar\nDATA: upper\ndata: x\n\n", [.init(data: "x")])
    }

    @Test func blockWithoutDataDispatchesNothing() throws {
        try expectEvents("event: ping\n\nevent: other\nid: 3\n\n", [])
    }

    @Test func invalidUTF8IsReplaced() throws {
        let input: [UInt8] = Array("data: a".utf8) + [0xFF, 0xE2] + Array("b\n\n".utf8)
        try expectEvents(input, [.init(data: "a\u{FFFD}\u{FFFD}b")])
    }

    @Test func multiByteCharactersSurviveEverySplit() throws {
        try expectEvents("data: héllo wörld ✓ 🚀\n\n", [.init(data: "héllo wörld ✓ 🚀")])
    }

    // MARK: Byte order mark

    @Test func leadingByteOrderMarkIsSkipped() throws {
        try expectEvents([0xEF, 0xBB, 0xBF] + Array("data: x\n\n".utf8), [.init(data: "x")])
    }

    @Test func byteOrderMarkIsOnlySkippedAtTheStart() throws {
        // A second mark makes the field name "\u{FEFF}data", which is not "data".
        try expectEvents(
            [0xEF, 0xBB, 0xBF] + [0xEF, 0xBB, 0xBF] + Array("data: x\n\ndata: y\n\n".utf8),
            [.init(data: "y")]
        )
    }

    @Test func partialByteOrderMarkAtEndOfInputIsData() throws {
        // "\u{EF}\u{BB}" is not a mark: it is a field name (invalid UTF-8) with no value; ignored.
        try expectEvents([0xEF, 0xBB], [])
        try expectEvents([0xEF] + Array("data: x\n\n".utf8), [])
    }

    // MARK: End of input

    @Test func finalEventWithoutBlankLineIsFlushedAtEnd() throws {
        try expectEvents("data: a\n\ndata: last\n", [.init(data: "a"), .init(data: "last")])
    }

    @Test func finalLineWithoutLineEndIsInterpretedAtEnd() throws {
        try expectEvents("event: done\ndata: [DONE]", [.init(event: "done", data: "[DONE]")])
    }

    @Test func nothingIsDispatchedBeforeEndWithoutBlankLine() throws {
        var parser = SSEParser()
        parser.append(Array("data: a\n".utf8))
        #expect(try parser.next() == nil)
        parser.finish()
        #expect(try parser.next() == ServerSentEvent(data: "a"))
        #expect(try parser.next() == nil)
    }

    @Test func emptyInputHasNoEvents() throws {
        try expectEvents("", [])
    }

    // MARK: Limits

    @Test func eventAtTheLimitIsAccepted() throws {
        // "data: " + 10 bytes + "\n" = 17 bytes, then the blank line (1 byte) = 18.
        let events = try SSEParser.parse(Array("data: 0123456789\n\n".utf8), maximumEventSize: 18)
        #expect(events == [.init(data: "0123456789")])
    }

    @Test func eventOverTheLimitThrowsAndKeepsThrowing() throws {
        var parser = SSEParser(maximumEventSize: 16)
        parser.append(Array("data: 0123456789\n\n".utf8))
        #expect(throws: SSEParserError(code: .eventTooLarge, maximumEventSize: 16)) { try parser.next() }
        #expect(throws: SSEParserError(code: .eventTooLarge, maximumEventSize: 16)) { try parser.next() }
    }

    @Test func limitCountsEveryLineOfTheEventIncludingComments() throws {
        let input = ": padding padding padding\ndata: x\n\n"
        #expect(throws: SSEParserError.self) { try SSEParser.parse(Array(input.utf8), maximumEventSize: 20) }
        // The same comment as its own block is fine: the count restarts after each blank line.
        #expect(try SSEParser.parse(Array(": pad\n\ndata: x\n\n".utf8), maximumEventSize: 10) == [.init(data: "x")])
    }

    @Test func endlessLineWithoutLineEndIsRejectedBeforeItEnds() throws {
        var parser = SSEParser(maximumEventSize: 1024)
        parser.append(Array(repeating: UInt8(ascii: "a"), count: 1000))
        #expect(try parser.next() == nil)
        parser.append(Array(repeating: UInt8(ascii: "a"), count: 100))
        #expect(throws: SSEParserError.self) { try parser.next() }
    }

    @Test func manyEventsInOneAppend() throws {
        let input = (0..<1000).map { "id: \($0)\ndata: event \($0)\n\n" }.joined()
        let expected = (0..<1000).map { ServerSentEvent(data: "event \($0)", id: "\($0)") }
        try expectEvents(input, expected)
    }

    // MARK: Provider-shaped streams

    @Test func anthropicShapedStream() throws {
        let input = """
            event: message_start\r
            data: {"type":"message_start"}\r
            \r
            event: ping\r
            data: {"type": "ping"}\r
            \r
            event: message_stop\r
            data: {"type":"message_stop"}\r
            \r

            """
        try expectEvents(
            input,
            [
                .init(event: "message_start", data: #"{"type":"message_start"}"#),
                .init(event: "ping", data: #"{"type": "ping"}"#),
                .init(event: "message_stop", data: #"{"type":"message_stop"}"#),
            ]
        )
    }

    @Test func openAIShapedStream() throws {
        try expectEvents(
            "data: {\"id\":\"1\"}\n\ndata: [DONE]\n\n",
            [.init(data: #"{"id":"1"}"#), .init(data: "[DONE]")]
        )
    }
}

// MARK: - Helpers

private func expectEvents(
    _ input: String,
    _ expected: [ServerSentEvent],
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    try expectEvents(Array(input.utf8), expected, sourceLocation: sourceLocation)
}

private func expectEvents(
    _ input: [UInt8],
    _ expected: [ServerSentEvent],
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    #expect(try parse(input, splits: [input.count]) == expected, "all at once", sourceLocation: sourceLocation)
    #expect(
        try parse(input, splits: Array(repeating: 1, count: input.count)) == expected,
        "byte by byte",
        sourceLocation: sourceLocation
    )
    var generator = SplitMix64(seed: UInt64(input.count))
    for round in 0..<20 {
        var splits: [Int] = []
        var remaining = input.count
        while remaining > 0 {
            let size = Int.random(in: 1...max(1, min(remaining, 7)), using: &generator)
            splits.append(size)
            remaining -= size
        }
        #expect(
            try parse(input, splits: splits) == expected,
            "random split \(round): \(splits)",
            sourceLocation: sourceLocation
        )
    }
}

/// Feeds `input` in pieces of the given sizes, draining events after every piece.
private func parse(_ input: [UInt8], splits: [Int]) throws -> [ServerSentEvent] {
    var parser = SSEParser()
    var events: [ServerSentEvent] = []
    var offset = 0
    for size in splits where size > 0 {
        parser.append(input[offset..<(offset + size)])
        offset += size
        while let event = try parser.next() {
            events.append(event)
        }
    }
    parser.finish()
    while let event = try parser.next() {
        events.append(event)
    }
    return events
}

/// A small deterministic generator so random splits are reproducible.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        self.state = seed
    }

    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
