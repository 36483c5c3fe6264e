public import FlexSSE
internal import NIOCore

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

        /// Iterates the events.
        public struct AsyncIterator: AsyncIteratorProtocol {
            public typealias Element = ServerSentEvent
            public typealias Failure = any Error

            var body: HTTPClientResponse.Body.AsyncIterator
            var parser: SSEParser
            var ended = false

            public mutating func next() async throws -> ServerSentEvent? {
                try await self.next(isolation: nil)
            }

            public mutating func next(isolation actor: isolated (any Actor)?) async throws -> ServerSentEvent? {
                while true {
                    do {
                        if let event = try self.parser.next() {
                            return event
                        }
                    } catch {
                        self.body.storage.transfer.cancel()
                        throw error
                    }
                    if self.ended {
                        return nil
                    }
                    if let chunk = try await self.body.next(isolation: actor) {
                        chunk.withUnsafeReadableBytes { self.parser.append($0) }
                    } else {
                        self.ended = true
                        self.parser.finish()
                    }
                }
            }
        }
    }
}
