public import NIOCore

extension HTTPClientResponse {
    /// The response body: an asynchronous sequence of byte chunks as they arrive.
    ///
    /// Iterate it once, from one task at a time. Reading slowly is safe: past
    /// `HTTPClient.Configuration.BodyBuffering.highWatermark` unread bytes the transfer pauses (the
    /// server's sends stall on TCP flow control) and resumes as the buffer drains, so memory stays
    /// bounded whatever the server sends.
    ///
    /// Cancelling the iterating task aborts the transfer and throws ``HTTPClientError/Code/cancelled``.
    /// A transfer failure mid-body (a cut connection, the idle or total timeout) is thrown from
    /// `next()`.
    public struct Body: AsyncSequence, Sendable {
        public typealias Element = ByteBuffer
        public typealias Failure = HTTPClientError

        let storage: Storage

        init(transfer: Transfer, expectedContentLength: Int?) {
            self.storage = Storage(transfer: transfer, expectedContentLength: expectedContentLength)
        }

        public func makeAsyncIterator() -> AsyncIterator {
            AsyncIterator(storage: self.storage)
        }

        /// Iterates the chunks.
        public struct AsyncIterator: AsyncIteratorProtocol {
            public typealias Element = ByteBuffer
            public typealias Failure = HTTPClientError

            let storage: Storage

            public mutating func next() async throws(HTTPClientError) -> ByteBuffer? {
                try await self.storage.transfer.nextChunk(isolation: nil)
            }

            public mutating func next(
                isolation actor: isolated (any Actor)?
            ) async throws(HTTPClientError) -> ByteBuffer? {
                try await self.storage.transfer.nextChunk(isolation: actor)
            }
        }

        /// Reads the whole body into one buffer.
        ///
        /// - Parameter maxBytes: the most bytes to accept. A `Content-Length` above it fails at once,
        ///   without reading; a body that grows past it fails as soon as it does. Either way the transfer
        ///   is aborted.
        /// - Throws: ``HTTPClientError`` with ``HTTPClientError/Code/responseTooLarge``, or the transfer's
        ///   own error.
        public func collect(
            upTo maxBytes: Int,
            isolation actor: isolated (any Actor)? = #isolation
        ) async throws(HTTPClientError) -> ByteBuffer {
            let transfer = self.storage.transfer
            if let expected = self.storage.expectedContentLength, expected > maxBytes {
                transfer.cancel()
                throw HTTPClientError.tooLarge(maxBytes, contentLength: expected)
            }
            var collected: ByteBuffer?
            while let chunk = try await transfer.nextChunk(isolation: actor) {
                let total = (collected?.readableBytes ?? 0) + chunk.readableBytes
                if total > maxBytes {
                    transfer.cancel()
                    throw HTTPClientError.tooLarge(maxBytes, contentLength: nil)
                }
                if collected == nil {
                    collected = chunk
                } else {
                    var chunk = chunk
                    collected!.writeBuffer(&chunk)
                }
            }
            return collected ?? ByteBuffer()
        }

        /// Owns the transfer for the body's copies and iterators: when the last of them goes away
        /// before the end, the transfer is aborted.
        final class Storage: Sendable {
            let transfer: Transfer
            /// The response's `Content-Length`, when it has one and a body follows.
            let expectedContentLength: Int?

            init(transfer: Transfer, expectedContentLength: Int?) {
                self.transfer = transfer
                self.expectedContentLength = expectedContentLength
            }

            deinit {
                self.transfer.cancel()
            }
        }
    }
}

extension HTTPClientError {
    static func tooLarge(_ limit: Int, contentLength: Int?) -> HTTPClientError {
        if let contentLength {
            return HTTPClientError(
                code: .responseTooLarge,
                message: "the response's Content-Length \(contentLength) exceeds the limit of \(limit) bytes"
            )
        }
        return HTTPClientError(
            code: .responseTooLarge,
            message: "the response body exceeds the limit of \(limit) bytes"
        )
    }
}
