internal import FlexJSON
internal import NIOConcurrencyHelpers
public import NIOCore

/// The billing ledger behind `GET /sim/ledger`: one JSON line per provider request handled.
///
/// Lines are encoded once, when the request ends, and kept in memory up to `capacity` lines (the
/// oldest are dropped first and counted in ``dropped``). Every line has a sequence number `seq`, so
/// a reader can ask for `?after=SEQ` and never see a line twice.
public final class SimLedger: Sendable {
    private struct State {
        var lines: [ByteBuffer] = []
        var firstSequence = 1
        var dropped = 0
        /// Every line ever appended (not reduced by drops or resets).
        var appended = 0
    }

    public let capacity: Int
    private let state = NIOLockedValueBox(State())

    public init(capacity: Int = 1_000_000) { self.capacity = max(1, capacity) }

    /// Records `entry` and returns its sequence number.
    @discardableResult
    public func append(_ entry: LedgerEntry) -> Int {
        self.state.withLockedValue { state in
            let sequence = state.firstSequence + state.lines.count
            state.appended += 1
            var line = ByteBuffer()
            line.reserveCapacity(512)
            entry.json(sequence: sequence).write(into: &line)
            line.writeInteger(UInt8(ascii: "\n"))
            state.lines.append(line)
            if state.lines.count > self.capacity {
                let drop = max(1, self.capacity / 10)
                state.lines.removeFirst(drop)
                state.firstSequence += drop
                state.dropped += drop
            }
            return sequence
        }
    }

    /// All lines with a sequence number greater than `after`, as one body.
    public func lines(after: Int = 0) -> ByteBuffer {
        self.state.withLockedValue { state in
            let skip = max(0, after - state.firstSequence + 1)
            var body = ByteBuffer()
            guard skip < state.lines.count else { return body }
            for var line in state.lines[skip...] { body.writeBuffer(&line) }
            return body
        }
    }

    public var count: Int { self.state.withLockedValue { $0.lines.count } }
    public var dropped: Int { self.state.withLockedValue { $0.dropped } }
    /// Lines ever appended, drops and resets included.
    public var appended: Int { self.state.withLockedValue { $0.appended } }

    public func reset() {
        self.state.withLockedValue { state in
            // Sequence numbers keep counting so that a reader's `after` stays meaningful.
            state.firstSequence += state.lines.count
            state.lines = []
        }
    }
}
