public import FlexCodec
import NIOConcurrencyHelpers
import NIOCore

/// The events of a streaming call, as they arrive: first a `StreamEvent.route(_:)` (the tier the
/// call committed to), then the provider's events. The sequence ends when the server's TRAILERS
/// arrive: normally for OK, by throwing a ``FlexClientError`` otherwise (with the savings record
/// when the call was billed).
///
/// ```swift
/// try await client.stream(request) { events in
///     for try await event in events { ... }
///     print(events.trailers!.status, events.savings?.savedPicoUSD ?? 0)
/// }
/// ```
///
/// Reading an event returns its bytes to the server's flow-control window. Iterate it from one
/// task at a time; cancelling that task cancels the call.
public struct FlexEventStream: AsyncSequence, Sendable {
    public typealias Element = StreamEvent
    public typealias Failure = FlexClientError

    private let call: ClientCall
    private let manager: ConnectionManager

    init(call: ClientCall, manager: ConnectionManager) {
        self.call = call
        self.manager = manager
    }

    /// The server's TRAILERS, once they arrived (always set after the sequence ended normally or
    /// with a server error); nil before.
    public var trailers: Trailers? { self.call.end.withLockedValue { $0.trailers } }

    /// The call's savings record, from the trailers: nil before they arrived, or when the call
    /// never reached a provider.
    public var savings: SavingsRecord? { self.trailers?.savings }

    /// The server's HEADERS metadata, once they arrived.
    public var responseHeaders: ResponseHeaders? { self.call.end.withLockedValue { $0.headers } }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(call: self.call, manager: self.manager)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        private let call: ClientCall
        private let manager: ConnectionManager

        init(call: ClientCall, manager: ConnectionManager) {
            self.call = call
            self.manager = manager
        }

        public mutating func next() async throws(FlexClientError) -> StreamEvent? {
            try await self.next(isolation: nil)
        }

        public mutating func next(isolation actor: isolated (any Actor)?) async throws(FlexClientError) -> StreamEvent?
        {
            let call = self.call
            let manager = self.manager
            if Task.isCancelled {
                call.loop.execute { manager.cancel(call, error: FlexClient.cancelledError) }
            }
            let result = await withTaskCancellationHandler {
                await withCheckedContinuation(isolation: actor) {
                    (continuation: CheckedContinuation<ClientCall.StreamResult, Never>) in
                    call.loop.execute { call.next(continuation) }
                }
            } onCancel: {
                call.loop.execute { manager.cancel(call, error: FlexClient.cancelledError) }
            }
            return try result.get()
        }
    }
}
