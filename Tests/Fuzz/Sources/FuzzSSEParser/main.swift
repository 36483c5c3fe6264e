// libFuzzer target for FlexSSE's SSEParser.
//
// The first input byte picks the parser's maximum event size (so the size limit is hit often) and
// seeds the random split; the rest is the stream. The same stream is parsed three ways: all at
// once, byte by byte, and in random pieces. Expected errors (an event over the limit) are
// swallowed; a difference between the three results, or an event breaking the parser's own
// guarantees, traps.

import FlexSSE

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSSEParser(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    guard count > 0 else {
        return 0
    }
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    let control = bytes[0]
    let input = Array(bytes.dropFirst())
    let limit = 16 + Int(control) * 8

    let whole = parse(input, pieces: [input.count], limit: limit)
    let oneByOne = parse(input, pieces: Array(repeating: 1, count: input.count), limit: limit)
    var generator = SplitMix64(seed: UInt64(control) &* 0x9E37_79B9 &+ UInt64(input.count))
    var pieces: [Int] = []
    var remaining = input.count
    while remaining > 0 {
        let size = Int(generator.next() % UInt64(min(remaining, 64))) + 1
        pieces.append(size)
        remaining -= size
    }
    let random = parse(input, pieces: pieces, limit: limit)

    guard whole == oneByOne, whole == random else {
        fatalError("split-dependent result: whole \(whole), byte by byte \(oneByOne), pieces \(pieces) \(random)")
    }
    for event in whole.events {
        // Data is at most the event's input; type and ID are single lines.
        guard event.data.utf8.count <= limit * 3,  // U+FFFD replacement can triple invalid bytes
            !event.event.contains("\n"), !event.event.contains("\r"),
            !(event.id ?? "").contains("\n"), !(event.id ?? "").contains("\r"), !(event.id ?? "").contains("\u{0}")
        else {
            fatalError("event breaks the parser's guarantees: \(event)")
        }
    }
    return 0
}

struct Outcome: Equatable, CustomStringConvertible {
    var events: [ServerSentEvent] = []
    var failed = false

    var description: String {
        "\(self.events.count) events\(self.failed ? " then eventTooLarge" : "")"
    }
}

func parse(_ input: [UInt8], pieces: [Int], limit: Int) -> Outcome {
    var parser = SSEParser(maximumEventSize: limit)
    var outcome = Outcome()
    var offset = 0
    do {
        for size in pieces {
            parser.append(input[offset..<(offset + size)])
            offset += size
            while let event = try parser.next() {
                outcome.events.append(event)
            }
        }
        parser.finish()
        while let event = try parser.next() {
            outcome.events.append(event)
        }
    } catch {
        guard error.code == .eventTooLarge, error.maximumEventSize == limit else {
            fatalError("unexpected error \(error)")
        }
        outcome.failed = true
        // Once failed, the parser keeps failing.
        do {
            _ = try parser.next()
            fatalError("the parser recovered after eventTooLarge")
        } catch {}
    }
    return outcome
}

struct SplitMix64 {
    var state: UInt64

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
