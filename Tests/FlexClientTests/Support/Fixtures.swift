import FlexClient
import FlexCodec
import NIOCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Requests, answers and savings records the tests send around.
enum Fixtures {
    static let chatJSON = #"{"model":"gpt-5.4-mini","messages":[{"role":"user","content":"Say hi"}]}"#
    static let providerKey = "sk-fixture-provider-key-0123456789"
    static let apiKey = "fxk_fixture_api_key_abcdef"

    static func request(id: String = "req-1", body: String = chatJSON) -> InferenceRequest {
        InferenceRequest(
            requestID: id,
            provider: .openAI,
            api: .chatCompletions,
            model: "gpt-5.4-mini",
            startWithin: "00h-00m-30s",
            providerKey: Secret(providerKey),
            metadata: ["feature": "tests"],
            body: .nativeJSON(ByteBuffer(string: body))
        )
    }

    /// A request whose JSON body is about `bytes` long and compresses well.
    static func largeRequest(bytes: Int) -> InferenceRequest {
        let filler = String(repeating: "Rule: answer briefly and cite the policy section. ", count: bytes / 50 + 1)
        return self.request(body: #"{"model":"gpt-5.4-mini","messages":[{"role":"system","content":"\#(filler)"}]}"#)
    }

    static func response(id: String = "req-1", text: String = "Hi!") -> InferenceResponse {
        InferenceResponse(
            requestID: id,
            nativeJSON: ByteBuffer(
                string: #"{"id":"chatcmpl-1","choices":[{"message":{"role":"assistant","content":"\#(text)"}}]}"#
            )
        )
    }

    static func savings(id: String = "req-1", saved: Int64 = 7_875_000) -> SavingsRecord {
        SavingsRecord(
            requestID: id,
            provider: .openAI,
            api: .chatCompletions,
            model: "gpt-5.4-mini",
            startWithin: "00h-00m-30s",
            tierRequested: .flex,
            tierServed: .flex,
            tierServedReported: "flex",
            flexAttempts: 1,
            tokens: TokenUsage(inputTokens: 9, outputTokens: 2),
            standardCostPicoUSD: 2 * saved,
            actualCostPicoUSD: saved,
            savedPicoUSD: saved,
            feePicoUSD: saved / 5,
            priceDate: "2026-11-26"
        )
    }

    static func nativeEvent(_ n: Int, size: Int = 0) -> StreamEvent {
        let padding = String(repeating: "x", count: size)
        return .native(NativeEvent(event: "delta", data: ByteBuffer(string: #"{"n":\#(n),"pad":"\#(padding)"}"#)))
    }

    static let route = StreamEvent.route(RouteDecision(tier: .flex, flexWaitMicroseconds: 1200))

    static func configuration(
        _ configure: (inout FlexClient.Configuration) -> Void = { _ in }
    ) -> FlexClient.Configuration {
        .defaults(configure)
    }
}

/// The `FlexClientError` a call failed with; records an issue when it succeeded or threw
/// something else.
func failure<T>(
    of operation: () async throws -> T,
    sourceLocation: SourceLocation = #_sourceLocation
) async -> FlexClientError? {
    do {
        let value = try await operation()
        Issue.record("expected the call to fail, it returned \(value)", sourceLocation: sourceLocation)
        return nil
    } catch let error as FlexClientError {
        return error
    } catch {
        Issue.record("expected a FlexClientError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// The `FlexClientError` a task failed with (see ``failure(of:sourceLocation:)``).
func failure<T: Sendable>(
    of task: Task<T, any Error>,
    sourceLocation: SourceLocation = #_sourceLocation
) async -> FlexClientError? {
    await failure(of: { try await task.value }, sourceLocation: sourceLocation)
}

extension FlexEventStream {
    /// Every event until the end.
    func collect() async throws(FlexClientError) -> [StreamEvent] {
        var events: [StreamEvent] = []
        var iterator = self.makeAsyncIterator()
        while let event = try await iterator.next() {
            events.append(event)
        }
        return events
    }
}

/// Runs `body` with a loopback port that is bound but not listening, so connecting to it is
/// refused, and no other test can take it meanwhile.
func withRefusingPort<T>(
    isolation: isolated (any Actor)? = #isolation,
    _ body: (Int) async throws -> T
) async throws -> T {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
        }
    }
    guard bound else { throw FakeServerError("could not reserve a port") }
    return try await body(Int(UInt16(bigEndian: address.sin_port)))
}
