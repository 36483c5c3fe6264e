/// An incremental parser for `text/event-stream` (Server-Sent Events).
///
/// A pure value type: feed it bytes in pieces of any size with `append(_:)`, then call ``next()``
/// until it returns `nil`; when the input ends, call ``finish()`` and drain ``next()`` once more.
/// The result does not depend on where the input was split.
///
/// ```swift
/// var parser = SSEParser()
/// for try await chunk in body {
///     parser.append(chunk.readableBytesView)
///     while let event = try parser.next() { handle(event) }
/// }
/// parser.finish()
/// while let event = try parser.next() { handle(event) }
/// ```
///
/// It follows the WHATWG HTML standard's event-stream interpretation ("9.2.6 Interpreting an event
/// stream"):
/// - lines end with `"\r\n"`, `"\n"` or a lone `"\r"` (a `"\r"` at the end of one piece and a `"\n"`
///   at the start of the next are one line end);
/// - one leading UTF-8 byte order mark is skipped;
/// - `data:` lines accumulate (joined with `"\n"`), `event:` sets the type, `id:` sets the last event
///   ID (unless the value contains U+0000), `retry:` sets ``reconnectionTime`` (ASCII digits only),
///   lines starting with `:` are comments, unknown fields are ignored, one space after the colon is
///   removed;
/// - a blank line dispatches the event; a block with no `data:` line dispatches nothing;
/// - field values are decoded as UTF-8, with invalid sequences replaced by U+FFFD (the data is kept
///   as bytes too, ``ServerSentEvent/dataBytes``, for readers that parse it as JSON).
///
/// One deliberate difference: at the end of input (``finish()``), a last line without a line end is
/// interpreted and a pending event is dispatched, where the standard discards it. An upstream whose
/// final event lacks the blank line still delivers it; whether the stream ended *properly* is a
/// question for the caller's protocol (its terminal event), not for this parser.
///
/// Memory is bounded: the bytes buffered for one event (its lines, comments included, and any
/// partial line) may not exceed ``maximumEventSize``; past it, ``next()`` throws
/// ``SSEParserError/Code/eventTooLarge`` and keeps throwing it (the stream cannot be resynchronised
/// safely). The buffer holds at most that limit plus the bytes of the last `append(_:)`.
public struct SSEParser: Sendable {
    /// The default for ``maximumEventSize``: 4 MiB. One event can carry a whole model response (the
    /// OpenAI Responses API's `response.completed`), so this is generous.
    public static let defaultMaximumEventSize = 4 * 1024 * 1024

    /// The largest event, in bytes of input, that the parser will buffer.
    public let maximumEventSize: Int

    /// The reconnection time in milliseconds from the last valid `retry:` field, if any.
    public private(set) var reconnectionTime: Int?

    /// The last event ID (`nil` when empty); it persists from event to event.
    public var lastEventID: String? {
        self.lastEventIDBytes.isEmpty ? nil : Self.decode(self.lastEventIDBytes[...])
    }

    /// Input not yet interpreted; `readIndex` is where interpretation continues.
    private var pending: [UInt8] = []
    private var readIndex = 0
    /// `pending[readIndex..<scanIndex]` is known to hold no line end: a line that arrives in many small
    /// pieces is scanned once, not once per piece.
    private var scanIndex = 0
    /// The previous line ended with `"\r"`, so a `"\n"` first in the next bytes belongs to it.
    private var skipLineFeed = false
    /// Whether the stream start has been checked for a byte order mark.
    private var checkedByteOrderMark = false
    private var inputEnded = false
    private var failure: SSEParserError?

    /// The event being assembled.
    private var dataBuffer: [UInt8] = []
    private var eventTypeBuffer: [UInt8] = []
    /// The last type dispatched from an `event:` field, as bytes and as the `String` events carry: a
    /// stream's events mostly repeat one type, whose `String` is then built once, not per event.
    private var lastEventType: (bytes: [UInt8], string: String) = ([], "")
    private var lastEventIDBytes: [UInt8] = []
    /// Bytes of input (line ends included) that belong to the event being assembled.
    private var eventSize = 0

    /// Creates a parser.
    ///
    /// - Parameter maximumEventSize: the largest event, in bytes of input, to buffer. Defaults to
    ///   ``defaultMaximumEventSize``. Must be positive.
    public init(maximumEventSize: Int = SSEParser.defaultMaximumEventSize) {
        precondition(maximumEventSize > 0, "maximumEventSize must be positive")
        self.maximumEventSize = maximumEventSize
    }

    /// Appends the next bytes of the stream.
    ///
    /// - Precondition: ``finish()`` has not been called.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        precondition(!self.inputEnded, "SSEParser.append(_:) called after finish()")
        self.pending.append(contentsOf: bytes)
    }

    /// Appends the next bytes of the stream from raw memory.
    ///
    /// - Precondition: ``finish()`` has not been called.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        precondition(!self.inputEnded, "SSEParser.append(_:) called after finish()")
        self.pending.append(contentsOf: bytes)
    }

    /// Marks the end of the input: ``next()`` then also interprets a final line that has no line end
    /// and dispatches the event it completes.
    public mutating func finish() {
        self.inputEnded = true
    }

    /// Returns the next complete event, or `nil` when more input is needed (or, after ``finish()``,
    /// when the input is exhausted).
    ///
    /// - Throws: ``SSEParserError`` with code ``SSEParserError/Code/eventTooLarge`` when one event
    ///   exceeds ``maximumEventSize``; every later call throws the same error.
    public mutating func next() throws(SSEParserError) -> ServerSentEvent? {
        try self.next { type, data, id in ServerSentEvent(event: type, dataBytes: Array(data), id: id) }
    }

    /// Returns the next complete event as `makeEvent` makes it from the event's type, its data and
    /// the last event ID, or `nil` when more input is needed (or, after ``finish()``, when the input
    /// is exhausted).
    ///
    /// The data (the event's `data:` values joined with `"\n"`) is lent from the parser's own buffer,
    /// valid only during the call: a reader that copies it where it goes next (into a `ByteBuffer`,
    /// say) saves the array ``next()`` builds for every event.
    ///
    /// - Throws: as ``next()``.
    public mutating func next<Event>(
        _ makeEvent: (_ type: String, _ data: UnsafeRawBufferPointer, _ id: String?) -> Event
    ) throws(SSEParserError) -> Event? {
        if let failure = self.failure {
            throw failure
        }
        if !self.checkedByteOrderMark {
            guard self.skipByteOrderMark() else {
                return nil
            }
        }
        while true {
            if self.skipLineFeed, self.readIndex < self.pending.count {
                self.skipLineFeed = false
                if self.pending[self.readIndex] == UInt8(ascii: "\n") {
                    self.readIndex += 1
                }
            }
            guard let lineEnd = self.firstLineEnd() else {
                return try self.handleIncompleteLine(makeEvent)
            }
            let lineStart = self.readIndex
            self.readIndex = lineEnd + 1
            if self.pending[lineEnd] == UInt8(ascii: "\r") {
                self.skipLineFeed = true
            }
            try self.account(lineEnd - lineStart + 1)
            if let event = self.interpretLine(lineStart..<lineEnd, makeEvent) {
                return event
            }
        }
    }

    /// Parses a complete stream in one call.
    public static func parse(
        _ bytes: some Sequence<UInt8>,
        maximumEventSize: Int = SSEParser.defaultMaximumEventSize
    ) throws(SSEParserError) -> [ServerSentEvent] {
        var parser = SSEParser(maximumEventSize: maximumEventSize)
        parser.append(bytes)
        parser.finish()
        var events: [ServerSentEvent] = []
        while let event = try parser.next() {
            events.append(event)
        }
        return events
    }

    // MARK: - Internals

    private static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

    /// Skips a leading byte order mark. Returns `false` when it cannot tell yet (fewer than three bytes
    /// that are a prefix of the mark, and more input may come).
    private mutating func skipByteOrderMark() -> Bool {
        let available = self.pending.count - self.readIndex
        let compared = min(available, 3)
        let isPrefix = self.pending[self.readIndex..<(self.readIndex + compared)]
            .elementsEqual(Self.byteOrderMark.prefix(compared))
        if isPrefix, available < 3, !self.inputEnded {
            return false
        }
        if isPrefix, available >= 3 {
            self.readIndex += 3
        }
        self.checkedByteOrderMark = true
        return true
    }

    private mutating func firstLineEnd() -> Int? {
        let start = max(self.readIndex, self.scanIndex)
        let found: Int? = self.pending.withUnsafeBufferPointer { buffer in
            var index = start
            while index < buffer.count {
                let byte = buffer[index]
                if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
                    return index
                }
                index += 1
            }
            return nil
        }
        self.scanIndex = found ?? self.pending.count
        return found
    }

    /// No line end in the buffered input: wait for more, or at the end of input interpret the rest as
    /// a last line and flush the event.
    private mutating func handleIncompleteLine<Event>(
        _ makeEvent: (String, UnsafeRawBufferPointer, String?) -> Event
    ) throws(SSEParserError) -> Event? {
        let remaining = self.pending.count - self.readIndex
        if self.inputEnded {
            var event: Event?
            if remaining > 0 {
                let line = self.readIndex..<self.pending.count
                self.readIndex = self.pending.count
                try self.account(remaining)
                event = self.interpretLine(line, makeEvent)
            }
            if event == nil {
                event = self.dispatch(makeEvent)
            }
            self.compact()
            return event
        }
        if self.eventSize + remaining > self.maximumEventSize {
            throw self.fail()
        }
        self.compact()
        return nil
    }

    private mutating func compact() {
        if self.readIndex == self.pending.count {
            self.pending.removeAll(keepingCapacity: self.pending.capacity <= 64 * 1024)
            self.scanIndex = 0
        } else if self.readIndex > 0 {
            self.pending.removeSubrange(0..<self.readIndex)
            self.scanIndex = max(0, self.scanIndex - self.readIndex)
        }
        self.readIndex = 0
    }

    private mutating func account(_ bytes: Int) throws(SSEParserError) {
        self.eventSize += bytes
        if self.eventSize > self.maximumEventSize {
            throw self.fail()
        }
    }

    private mutating func fail() -> SSEParserError {
        let error = SSEParserError(code: .eventTooLarge, maximumEventSize: self.maximumEventSize)
        self.failure = error
        self.pending = []
        self.readIndex = 0
        self.scanIndex = 0
        self.dataBuffer = []
        self.eventTypeBuffer = []
        return error
    }

    /// Interprets one line (without its line end); returns an event when the line dispatches one.
    private mutating func interpretLine<Event>(
        _ range: Range<Int>,
        _ makeEvent: (String, UnsafeRawBufferPointer, String?) -> Event
    ) -> Event? {
        if range.isEmpty {
            return self.dispatch(makeEvent)
        }
        let line = self.pending[range]
        if line.first == UInt8(ascii: ":") {
            return nil
        }
        let field: ArraySlice<UInt8>
        var value: ArraySlice<UInt8>
        if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
            field = line[..<colon]
            value = line[(colon + 1)...]
            if value.first == UInt8(ascii: " ") {
                value = value.dropFirst()
            }
        } else {
            field = line
            value = []
        }
        if field.elementsEqual("data".utf8) {
            self.dataBuffer.append(contentsOf: value)
            self.dataBuffer.append(UInt8(ascii: "\n"))
        } else if field.elementsEqual("event".utf8) {
            self.eventTypeBuffer.removeAll(keepingCapacity: true)
            self.eventTypeBuffer.append(contentsOf: value)
        } else if field.elementsEqual("id".utf8) {
            if !value.contains(0) {
                self.lastEventIDBytes = Array(value)
            }
        } else if field.elementsEqual("retry".utf8) {
            if let milliseconds = Self.parseDigits(value) {
                self.reconnectionTime = milliseconds
            }
        }
        return nil
    }

    /// The standard's "dispatch the event" step, run on a blank line (and at the end of input).
    private mutating func dispatch<Event>(_ makeEvent: (String, UnsafeRawBufferPointer, String?) -> Event) -> Event? {
        defer {
            self.dataBuffer.removeAll(keepingCapacity: self.dataBuffer.capacity <= 64 * 1024)
            self.eventTypeBuffer.removeAll(keepingCapacity: self.eventTypeBuffer.capacity <= 1024)
            self.eventSize = 0
        }
        guard !self.dataBuffer.isEmpty else {
            return nil
        }
        let type: String
        if self.eventTypeBuffer.isEmpty {
            type = "message"
        } else if self.eventTypeBuffer == self.lastEventType.bytes {
            type = self.lastEventType.string
        } else {
            type = Self.decode(self.eventTypeBuffer[...])
            self.lastEventType = (self.eventTypeBuffer, type)
        }
        let id = self.lastEventID
        // The data without the "\n" the last `data:` line added.
        return self.dataBuffer.withUnsafeBytes { makeEvent(type, UnsafeRawBufferPointer(rebasing: $0.dropLast()), id) }
    }

    private static func parseDigits(_ bytes: ArraySlice<UInt8>) -> Int? {
        guard !bytes.isEmpty else {
            return nil
        }
        var result = 0
        for byte in bytes {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else {
                return nil
            }
            let (shifted, overflow1) = result.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = shifted.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
            if overflow1 || overflow2 {
                return nil
            }
            result = sum
        }
        return result
    }

    private static func decode(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes, as: UTF8.self)
    }
}
