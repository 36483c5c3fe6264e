internal import FlexCodec
internal import FlexHTTP
internal import FlexJSON
internal import FlexRouter

/// Sends the same calls as provider JSON straight to a provider (flexsim, in benchmarks),
/// bypassing flexd: the baseline that shows what the router adds.
///
/// Each request is built by the router's own adapters on the standard tier, so it is byte for
/// byte what flexd would send for a standard attempt (with flexsim's correlation header carrying
/// the request id, as flexd's `--correlation-header` does); the direct path has no savings record.
public final class DirectTarget: LoadTarget {
    public let name = "direct"
    private let http: HTTPCallClient
    private let baseURLs: [Provider: String]
    private let adapters: [Api: any ProviderAdapter]

    /// - Parameters:
    ///   - root: flexsim's root URL (`http://127.0.0.1:9000`); the providers live under it.
    ///   - timeout: Each call's response-head timeout.
    public init(root: String, timeout: Duration) throws {
        self.http = try HTTPCallClient(timeout: timeout)
        let trimmed = root.hasSuffix("/") ? String(root.dropLast()) : root
        self.baseURLs = RouterConfiguration.flexsim(trimmed)
        self.adapters = Dictionary(Router.nativeAdapters.map { ($0.api, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public func send(_ call: PlannedCall, intended: ContinuousClock.Instant) async -> CallResult {
        guard let api = call.request.api, let adapter = self.adapters[api], let base = self.baseURLs[api.provider]
        else {
            return CallResult(ok: false, errorCode: "direct_unsupported_call", latency: .now - intended)
        }
        let body: JSONObject
        do {
            body = try call.nativeObject(api: api)
        } catch {
            return CallResult(ok: false, errorCode: error.code, latency: .now - intended)
        }
        let upstream: UpstreamRequest
        do {
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
        var headers = HTTPHeaders(upstream.headers)
        headers.add(name: "x-flexsim-correlation-id", value: call.request.requestID)
        return await self.http.post(
            base + upstream.path,
            headers: headers,
            body: upstream.body,
            stream: call.stream,
            intended: intended
        )
    }

    public func close() async {
        await self.http.shutdown()
    }
}
