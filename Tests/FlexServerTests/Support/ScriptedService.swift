import FlexCodec
import FlexRouter
import FlexServer
import NIOCore

/// A service that streams `events` native events of `eventBytes` bytes each, without any provider,
/// so flow control and backpressure can be tested exactly; it counts what it managed to emit.
final class ScriptedService: InferenceService, @unchecked Sendable {
    // @unchecked: `emitted` is only touched by the one call this service is used for in a test.
    let events: Int
    let eventBytes: Int
    private(set) var emitted = 0

    init(events: Int, eventBytes: Int) {
        self.events = events
        self.eventBytes = eventBytes
    }

    func complete(_ request: InferenceRequest, context: CallContext) async throws(RouterFailure) -> (InferenceResponse, SavingsRecord) {
        (InferenceResponse(requestID: request.requestID, nativeJSON: ByteBuffer(string: "{}")), SavingsRecord(requestID: request.requestID))
    }

    func stream(_ request: InferenceRequest, context: CallContext, emit: @escaping Router.Emit) async throws(RouterFailure) -> SavingsRecord {
        let data = ByteBuffer(repeating: UInt8(ascii: "x"), count: self.eventBytes)
        for _ in 0..<self.events {
            do {
                try await emit(.native(NativeEvent(event: "chunk", data: data)))
            } catch {
                throw RouterFailure(RouterError(.cancelled, "cancelled", "the client went away"))
            }
            self.emitted += 1
        }
        return SavingsRecord(requestID: request.requestID)
    }
}
