internal import FlexCodec
internal import FlexHTTP
internal import FlexJSON
internal import FlexRouter
internal import NIOCore

/// Sends the same calls as provider JSON straight to a provider (flexsim, in benchmarks),
/// bypassing flexd: the baseline that shows what the router adds.
///
/// Each request is built by the router's own adapters on the standard tier, so it is byte for
/// byte what flexd would send for a standard attempt (with flexsim's correlation header carrying
/// the request id, as flexd's `--correlation-header` does); the direct path has no savings record.
public final class DirectTarget: LoadTarget {
    public let name = "direct"
    private let http: HTTPClient
    private let baseURLs: [Provider: String]
    private let adapters: [Api: any ProviderAdapter]

    /// - Parameters:
    ///   - root: flexsim's root URL (`http://127.0.0.1:9000`); the providers live under it.
    ///   - timeout: Each call's response-head timeout.
    public init(root: String, timeout: Duration) throws {
        var configuration = HTTPClient.Configuration.defaults
        configuration.timeouts.responseHead = timeout
        configuration.connectionPool.maximumConnectionsPerHost = 512
        self.http = try HTTPClient(configuration: configuration)
        let trimmed = root.hasSuffix("/") ? String(root.dropLast()) : root
        self.baseURLs = RouterConfiguration.flexsim(trimmed)
        self.adapters = Dictionary(Router.nativeAdapters.map { ($0.api, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public func send(_ call: PlannedCall, intended: ContinuousClock.Instant) async -> CallResult {
        guard let api = call.request.api, let adapter = self.adapters[api], let base = self.baseURLs[api.provider]
        else {
            return CallResult(ok: false, errorCode: "direct_unsupported_call", latency: .now - intended)
        }
        let upstream: UpstreamRequest
        do {
            let body: JSONObject
            switch call.request.body {
            case .nativeJSON(let bytes)?:
                guard let object = try? JSONParser.parse(bytes.readableBytesView).object else {
                    return CallResult(ok: false, errorCode: "invalid_request_body", latency: .now - intended)
                }
                body = object
            case .chat(let chat)?:
                body = try TypedCall.nativeBody(chat, api: api, model: call.request.model, streaming: call.stream)
            case nil:
                return CallResult(ok: false, errorCode: "missing_body", latency: .now - intended)
            }
            upstream = try adapter.makeRequest(
                body: body,
                model: call.request.model,
                tier: .standard,
                stream: call.stream,
                key: call.request.providerKey
            )
        } catch {
            return CallResult(ok: false, errorCode: error.errorCode, latency: .now - intended)
        }
        var request = HTTPClientRequest(url: base + upstream.path)
        request.method = .POST
        for (name, value) in upstream.headers { request.headers.add(name: name, value: value) }
        request.headers.add(name: "x-flexsim-correlation-id", value: call.request.requestID)
        request.body = upstream.body
        do {
            let response = try await self.http.execute(request)
            var firstByte: ContinuousClock.Instant?
            for try await _ in response.body where firstByte == nil {
                firstByte = .now
            }
            let end = ContinuousClock.now
            guard (200..<300).contains(response.status) else {
                return CallResult(ok: false, errorCode: "http_\(response.status)", latency: end - intended)
            }
            return CallResult(ok: true, latency: end - intended, firstByte: (firstByte ?? end) - intended)
        } catch {
            return CallResult(ok: false, errorCode: "http_\(error.code)", latency: .now - intended)
        }
    }

    public func close() async {
        await self.http.shutdown()
    }
}
