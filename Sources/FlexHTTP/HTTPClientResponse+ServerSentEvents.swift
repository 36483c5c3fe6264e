public import FlexSSE
public import NIOCore

extension HTTPClientResponse.Body {
    /// The body parsed as a `text/event-stream`: an asynchronous sequence of `ServerSentEvent`s.
    ///
    /// A final event without its trailing blank line is delivered when the body ends (see
    /// `SSEParser`). Transfer errors are thrown as ``HTTPClientError``; an event larger than
    /// `maximumEventSize` throws `SSEParserError` and aborts the transfer.
    public func serverSentEvents(
        maximumEventSize: Int = SSEParser.defaultMaximumEventSize
    ) -> ServerSentEvents {
        ServerSentEvents(body: self, maximumEventSize: maximumEventSize)
    }

    /// The events of an event-stream body.
    public struct ServerSentEvents: AsyncSequence, Sendable {
        public typealias Element = ServerSentEvent
        public typealias Failure = any Error

        let body: HTTPClientResponse.Body
        let maximumEventSize: Int

        public func makeAsyncIterator() -> AsyncIterator {
            AsyncIterator(
                body: self.body.makeAsyncIterator(),
                parser: SSEParser(maximumEventSize: self.maximumEventSize)
            )
        }

        /// An event whose data stays bytes, in a `ByteBuffer` (``AsyncIterator/nextEvent(isolation:)``).
        public struct Event: Sendable {
            /// The event type: the block's last `event:` field, or `"message"`.
            public var type: String
            /// The block's `data:` values joined with `"\n"`, as received.
            public var data: ByteBuffer
        }

        /// Iterates the events.
        public struct AsyncIterator: AsyncIteratorProtocol {
            public typealias Element = ServerSentEvent
            public typealias Failure = any Error

            var body: HTTPClientResponse.Body.AsyncIterator
            var parser: SSEParser
            var ended = false
            /// The buffer ``nextEvent(isolation:)`` hands out slices of; nil until the first event.
            var dataBuffer: ByteBuffer?

            /// Events larger than this get a buffer of their own rather than growing the one reused
            /// from event to event, which a stream keeps for its lifetime.
            static let reusedBufferLimit = 16 * 1024

            init(body: HTTPClientResponse.Body.AsyncIterator, parser: SSEParser) {
                self.body = body
                self.parser = parser
            }

            public mutating func next() async throws -> ServerSentEvent? {
                try await self.next(isolation: nil)
            }

            public mutating func next(isolation actor: isolated (any Actor)?) async throws -> ServerSentEvent? {
                while true {
                    if let event = try self.parsed({ parser throws(SSEParserError) in try parser.next() }) {
                        return event
                    }
                    guard try await self.read(isolation: actor) else { return nil }
                }
            }

            /// The next event with its data in a `ByteBuffer`, or nil at the end of the body.
            ///
            /// The data is a slice of one buffer the iterator reuses: an event read after the last
            /// one's data has been released (forwarded, copied, dropped) takes no allocation. Events
            /// read in a burst while earlier ones are held cost one buffer each, as with ``next()``,
            /// which builds an array per event.
            public mutating func nextEvent(isolation actor: isolated (any Actor)? = #isolation) async throws -> Event? {
                while true {
                    var reused = self.dataBuffer
                    self.dataBuffer = nil
                    let event = try self.parsed { (parser: inout SSEParser) throws(SSEParserError) -> Event? in
                        try parser.next { type, data, _ in
                            Event(type: type, data: Self.copy(data, reusing: &reused))
                        }
                    }
                    self.dataBuffer = reused
                    if let event { return event }
                    guard try await self.read(isolation: actor) else { return nil }
                }
            }

            /// `data` in `reused` when it fits (after the data handed out before has been
            /// released, `reused` is unique and clearing it allocates nothing), else in a new buffer.
            private static func copy(_ data: UnsafeRawBufferPointer, reusing reused: inout ByteBuffer?) -> ByteBuffer {
                guard data.count <= Self.reusedBufferLimit else {
                    var own = ByteBufferAllocator().buffer(capacity: data.count)
                    own.writeBytes(data)
                    return own
                }
                if reused == nil {
                    reused = ByteBufferAllocator().buffer(capacity: Swift.max(data.count, 512))
                } else {
                    reused!.clear(minimumCapacity: Swift.max(data.count, 512))
                }
                reused!.writeBytes(data)
                return reused!.readSlice(length: data.count)!
            }

            /// Runs `parse` on the parser; a parse failure cancels the transfer.
            private mutating func parsed<Result>(
                _ parse: (inout SSEParser) throws(SSEParserError) -> Result?
            ) throws(SSEParserError) -> Result? {
                do {
                    return try parse(&self.parser)
                } catch {
                    self.body.storage.transfer.cancel()
                    throw error
                }
            }

            /// Feeds the parser the body's next chunk; false once the parser has seen all of it.
            private mutating func read(isolation actor: isolated (any Actor)?) async throws(HTTPClientError) -> Bool {
                if self.ended {
                    return false
                }
                if let chunk = try await self.body.next(isolation: actor) {
                    chunk.withUnsafeReadableBytes { self.parser.append($0) }
                } else {
                    self.ended = true
                    self.parser.finish()
                }
                return true
            }
        }
    }
}
