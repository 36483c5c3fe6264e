import FlexCore
import NIOCore
import Synchronization

/// An ``InferenceService`` in memory, no provider and no router: each call runs the closure the
/// test gives, and the service remembers what it saw (requests, tenants, cancellations), so the
/// transport can be tested on its own.
final class MemoryService: InferenceService {
    typealias Unary =
        @Sendable (InferenceRequest, CallContext) async throws(CallFailure) -> (InferenceResponse, SavingsRecord)
    typealias Streaming =
        @Sendable (InferenceRequest, CallContext, EventSink) async throws(CallFailure) -> SavingsRecord

    private let unary: Unary
    private let streaming: Streaming
    private let seen = Mutex<Seen>(Seen())

    struct Seen: Sendable {
        var requests: [InferenceRequest] = []
        var tenants: [String] = []
        var cancelled: [String] = []
        var emitted = 0
    }

    init(unary: @escaping Unary = MemoryService.echo, streaming: @escaping Streaming = MemoryService.events(3)) {
        self.unary = unary
        self.streaming = streaming
    }

    var observed: Seen { self.seen.withLock { $0 } }

    func note(cancelled requestID: String) { self.seen.withLock { $0.cancelled.append(requestID) } }
    func noteEmitted() { self.seen.withLock { $0.emitted += 1 } }

    func complete(
        _ request: consuming InferenceRequest,
        context: CallContext
    ) async throws(CallFailure) -> (InferenceResponse, SavingsRecord) {
        let request = copy request
        self.seen.withLock {
            $0.requests.append(request)
            $0.tenants.append(context.tenant.id)
        }
        return try await self.unary(request, context)
    }

    func stream(
        _ request: consuming InferenceRequest,
        context: CallContext,
        emit: @escaping EventSink
    ) async throws(CallFailure) -> SavingsRecord {
        let request = copy request
        self.seen.withLock {
            $0.requests.append(request)
            $0.tenants.append(context.tenant.id)
        }
        return try await self.streaming(request, context, emit)
    }

    /// A record that says the call was served by flex and saved `saved` picousd.
    static func record(_ request: InferenceRequest, saved: Int64 = 1_000) -> SavingsRecord {
        var record = SavingsRecord(
            requestID: request.requestID,
            provider: request.provider,
            api: request.api,
            model: request.model,
            startWithin: request.startWithin,
            tierRequested: .flex
        )
        record.tierServed = .flex
        record.standardCostPicoUSD = 2 * saved
        record.actualCostPicoUSD = saved
        record.savedPicoUSD = saved
        record.feePicoUSD = saved / 5
        return record
    }

    /// Answers with the request's own body.
    static let echo: Unary = { request, _ throws(CallFailure) in
        guard case .nativeJSON(let body)? = request.body else { throw CallFailure(.missingBody, "no body") }
        return (InferenceResponse(requestID: request.requestID, nativeJSON: body), MemoryService.record(request))
    }

    /// Streams the route, then `count` native events.
    static func events(_ count: Int, bytes: Int = 10) -> Streaming {
        { request, _, emit throws(CallFailure) in
            let data = ByteBuffer(repeating: UInt8(ascii: "x"), count: bytes)
            do {
                try await emit(.route(RouteDecision(tier: .flex)))
                for index in 0..<count { try await emit(.native(NativeEvent(event: "chunk-\(index)", data: data))) }
            } catch {
                throw CallFailure.cancelled
            }
            return MemoryService.record(request)
        }
    }

    /// Waits until the calling task is cancelled, then fails as a router does: `cancelled`, with the
    /// record of what was billed.
    static func waitForCancellation(_ service: @escaping @Sendable () -> MemoryService?) -> Unary {
        { request, _ throws(CallFailure) in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(5))
            }
            service()?.note(cancelled: request.requestID)
            throw CallFailure(.cancelled, "the call was cancelled", savings: MemoryService.record(request, saved: 7))
        }
    }
}
