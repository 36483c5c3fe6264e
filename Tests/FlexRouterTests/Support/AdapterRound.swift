import FlexCore
import FlexJSON
import NIOCore
import Testing

@testable import FlexRouter

/// The same request sent to flexsim twice through one adapter, streamed and unstreamed, each from
/// a clean flexsim state (so prompt caching treats them alike), with what flexsim billed for each.
struct AdapterRound {
    var streamResponse: RawHTTPResponse
    var stream: ReadStream
    var streamRow: JSONValue
    var unaryResponse: RawHTTPResponse
    var unaryResult: UpstreamResult
    var unaryRow: JSONValue

    /// The streamed answer reassembled, parsed.
    func assembled() throws -> JSONValue { try json(self.stream.reader.assembleResponse()) }

    static func run(
        _ sim: SimHarness,
        _ adapter: any ProviderAdapter,
        body: String,
        model: String,
        tier: Tier,
        faults: String? = nil
    ) async throws -> AdapterRound {
        let (object, passed) = try NativeBody.parseRequest(ByteBuffer(string: body), api: adapter.api)
        let provider = adapter.api.provider
        let extra = faults.map { [("x-flexsim-fault", $0)] } ?? []
        let tag = "\(adapter.api.name)-\(UInt64.random(in: 0...UInt64.max))"

        try sim.reset()
        let streamRequest = try adapter.makeRequest(
            body: object,
            passing: passed,
            model: model,
            tier: tier,
            stream: true,
            key: Self.key(provider)
        )
        let streamResponse = try sim.send(
            streamRequest,
            provider: provider,
            correlation: tag + "-stream",
            extraHeaders: extra
        )
        let reader = adapter.makeStreamReader(for: object, tier: tier, headers: streamResponse.headers)
        let stream = read(SSEDecoder.events(streamResponse.body), with: reader)
        let streamRow = try await sim.ledgerRow(tag + "-stream")

        try sim.reset()
        let unaryRequest = try adapter.makeRequest(
            body: object,
            passing: passed,
            model: model,
            tier: tier,
            stream: false,
            key: Self.key(provider)
        )
        let unaryResponse = try sim.send(
            unaryRequest,
            provider: provider,
            correlation: tag + "-unary",
            extraHeaders: extra
        )
        let unaryRow = try await sim.ledgerRow(tag + "-unary")
        let unaryResult = try adapter.readResponse(unaryResponse.bodyBuffer, headers: unaryResponse.headers)
        return AdapterRound(
            streamResponse: streamResponse,
            stream: stream,
            streamRow: streamRow,
            unaryResponse: unaryResponse,
            unaryResult: unaryResult,
            unaryRow: unaryRow
        )
    }

    /// Keys flexsim accepts without `--api-key` (the provider's usual prefix).
    static func key(_ provider: Provider) -> Secret {
        switch provider {
        case .openAI: "sk-test-adapter"
        case .anthropic: "sk-ant-test-adapter"
        case .gemini: "AIzaTestAdapterKey"
        }
    }
}
