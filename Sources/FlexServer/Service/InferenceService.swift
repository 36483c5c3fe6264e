public import FlexCodec
public import FlexRouter
public import Logging

/// What the server calls for each call. ``RouterService`` is the real one; tests can put anything
/// behind the wire protocol.
public protocol InferenceService: Sendable {
    /// A unary call. The request is the service's: the server keeps no copy of it (nor of its body).
    func complete(_ request: consuming InferenceRequest, context: CallContext) async throws(RouterFailure) -> (InferenceResponse, SavingsRecord)

    /// A streaming call: `emit` suspends while the client is not ready (that is the backpressure from
    /// the socket to the upstream transfer).
    func stream(_ request: consuming InferenceRequest, context: CallContext, emit: @escaping Router.Emit) async throws(RouterFailure) -> SavingsRecord
}

/// Who is calling, and how the call is bounded.
public struct CallContext: Sendable {
    public var tenant: Tenant
    public var streamID: StreamID
    /// From the call's HEADERS.
    public var metadata: [String: String]
    /// At `debug` and `trace`, carries `request_id`, `tenant` and `stream` metadata; above, the
    /// server adds them to its own lines about the call (a per-call logger costs ~0.8 KB per call).
    public var logger: Logger

    public init(tenant: Tenant, streamID: StreamID, metadata: [String: String], logger: Logger) {
        self.tenant = tenant
        self.streamID = streamID
        self.metadata = metadata
        self.logger = logger
    }
}

/// The router behind the wire: fills in what the caller left to the server (a request id, the
/// tenant's own provider key) and routes.
public struct RouterService: InferenceService {
    public let router: Router

    public init(router: Router) {
        self.router = router
    }

    public func complete(_ request: consuming InferenceRequest, context: CallContext) async throws(RouterFailure) -> (InferenceResponse, SavingsRecord) {
        try await self.router.complete(Self.prepared(consume request, context), logger: context.logger)
    }

    public func stream(_ request: consuming InferenceRequest, context: CallContext, emit: @escaping Router.Emit) async throws(RouterFailure) -> SavingsRecord {
        try await self.router.stream(Self.prepared(consume request, context), logger: context.logger, emit: emit)
    }

    /// BYOK first: the caller's key wins; else the tenant's configured key for the provider.
    static func prepared(_ request: consuming InferenceRequest, _ context: CallContext) -> InferenceRequest {
        if request.providerKey.isEmpty, let provider = request.provider, let key = context.tenant.providerKeys[provider] {
            request.providerKey = key
        }
        return request
    }
}
