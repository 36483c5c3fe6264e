import FlexCore
import NIOCore
import Synchronization

/// The in-memory ``InferenceService`` behind the fuzzed connection. What a call does is chosen by
/// the first bytes of its request's `model` (which the fuzz input chooses): answer at once, stream
/// some events (small, or large enough to exhaust the client's window), fail, or hang until it is
/// cancelled (before or after streaming). It counts the calls it started and ended: once the
/// connection has closed, every call it started must have ended.
final class FuzzService: InferenceService {
    enum Behaviour {
        case unary(size: Int)
        case stream(events: Int, size: Int)
        case fail
        case hang
        case streamThenHang(events: Int)
        case streamThenFail(events: Int)
    }

    /// The model names the client script picks from; a fuzzed model maps onto one too.
    static let models = ["unary", "unary-big", "stream", "stream-big", "fail", "hang", "stream-hang", "stream-fail"]

    static func behaviour(_ model: String) -> Behaviour {
        let utf8 = Array(model.utf8)
        let selector = Int(utf8.first ?? 0) &+ Int(utf8.last ?? 0) &+ utf8.count
        switch model {
        case "unary": return .unary(size: 16)
        case "unary-big": return .unary(size: 20_000)
        case "stream": return .stream(events: 3, size: 16)
        case "stream-big": return .stream(events: 4, size: 9_000)
        case "fail": return .fail
        case "hang": return .hang
        case "stream-hang": return .streamThenHang(events: 2)
        case "stream-fail": return .streamThenFail(events: 2)
        default:
            switch selector % 6 {
            case 0: return .unary(size: selector % 64)
            case 1: return .stream(events: selector % 5, size: selector % 200)
            case 2: return .fail
            case 3: return .hang
            case 4: return .streamThenHang(events: 1)
            default: return .streamThenFail(events: 1)
            }
        }
    }

    struct Counts {
        var started = 0
        var ended = 0
    }

    private let counts = Mutex(Counts())

    var observed: Counts { self.counts.withLock { $0 } }

    private func started() { self.counts.withLock { $0.started += 1 } }
    private func ended() { self.counts.withLock { $0.ended += 1 } }

    func complete(
        _ request: consuming InferenceRequest,
        context: CallContext
    ) async throws(CallFailure) -> (InferenceResponse, SavingsRecord) {
        let request = copy request
        self.started()
        defer { self.ended() }
        switch Self.behaviour(request.model) {
        case .unary(let size):
            let body = ByteBuffer(repeating: UInt8(ascii: "a"), count: size)
            return (InferenceResponse(requestID: request.requestID, nativeJSON: body), Self.record(request))
        case .stream, .fail:
            throw CallFailure(.missingBody, "the fuzz service fails this call", savings: Self.record(request))
        case .hang, .streamThenHang, .streamThenFail:
            await CancellationWait.untilCancelled()
            throw CallFailure.cancelled
        }
    }

    func stream(
        _ request: consuming InferenceRequest,
        context: CallContext,
        emit: @escaping EventSink
    ) async throws(CallFailure) -> SavingsRecord {
        let request = copy request
        self.started()
        defer { self.ended() }
        let behaviour = Self.behaviour(request.model)
        let (events, size): (Int, Int) =
            switch behaviour {
            case .unary(let size): (1, size)
            case .stream(let events, let size): (events, size)
            case .fail, .hang: (0, 0)
            case .streamThenHang(let events), .streamThenFail(let events): (events, 64)
            }
        do {
            if events > 0 { try await emit(.route(RouteDecision(tier: .flex))) }
            for index in 0..<events {
                let data = ByteBuffer(repeating: UInt8(ascii: "x"), count: size)
                try await emit(.native(NativeEvent(event: "chunk-\(index)", data: data)))
            }
        } catch {
            throw CallFailure(.cancelled, "the caller went away", savings: Self.record(request))
        }
        switch behaviour {
        case .fail, .streamThenFail:
            throw CallFailure(.missingBody, "the fuzz service fails this call", savings: Self.record(request))
        case .hang, .streamThenHang:
            await CancellationWait.untilCancelled()
            throw CallFailure.cancelled
        case .unary, .stream:
            return Self.record(request)
        }
    }

    static func record(_ request: InferenceRequest) -> SavingsRecord {
        var record = SavingsRecord(
            requestID: request.requestID,
            provider: request.provider,
            api: request.api,
            model: request.model,
            startWithin: request.startWithin,
            tierRequested: .flex
        )
        record.tierServed = .flex
        record.standardCostPicoUSD = 2_000
        record.actualCostPicoUSD = 1_000
        record.savedPicoUSD = 1_000
        record.feePicoUSD = 200
        return record
    }
}

/// Suspends the calling task until it is cancelled (a call that hangs until CANCEL, its deadline or
/// the connection's end stops it). No `Task.sleep`: the fuzzer's tasks all run on the embedded
/// event loop, and nothing may wait on real time.
final class CancellationWait: Sendable {
    private enum State {
        case idle
        case waiting(CheckedContinuation<Void, Never>)
        case cancelled
    }

    private let state = Mutex(State.idle)

    static func untilCancelled() async {
        let wait = CancellationWait()
        await withTaskCancellationHandler {
            await withCheckedContinuation { wait.park($0) }
        } onCancel: {
            wait.cancel()
        }
    }

    private func park(_ continuation: CheckedContinuation<Void, Never>) {
        let resumeNow = self.state.withLock { state in
            guard case .idle = state else { return true }
            state = .waiting(continuation)
            return false
        }
        if resumeNow { continuation.resume() }
    }

    private func cancel() {
        let waiting: CheckedContinuation<Void, Never>? = self.state.withLock { state in
            defer { state = .cancelled }
            if case .waiting(let continuation) = state { return continuation }
            return nil
        }
        waiting?.resume()
    }
}
