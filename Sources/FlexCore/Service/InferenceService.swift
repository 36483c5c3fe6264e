public import Logging

/// The seam between a transport and what answers calls: the one thing a transport (the binary TCP
/// server, the HTTP door) calls to run a call, and the one thing the router implements.
///
/// A call is a request in and, for a streaming call, events out (a ``StreamEvent/route(_:)``
/// event once the call has committed to a tier, then the answer's events), then a final outcome:
/// the answer (unary) and the ``SavingsRecord``, or a ``CallFailure``, which carries the record
/// too when the call reached a provider and was billed.
///
/// A transport can be built and tested against any implementation, with no provider, router or C
/// library involved: the tests of FlexServer run it against an in-memory service.
///
/// Cancelling the calling task stops the call: the implementation stops its upstream work and
/// throws a ``CallFailure`` with `cancelled` (and the record of anything already billed).
public protocol InferenceService: Sendable {
    /// A unary call. The request is the service's: the transport keeps no copy of it (nor of its
    /// body, which is as large as the caller's prompt).
    func complete(
        _ request: consuming InferenceRequest,
        context: CallContext
    ) async throws(CallFailure)
        -> (InferenceResponse, SavingsRecord)

    /// A streaming call: `emit` receives the events in order and suspends while the caller is not
    /// ready for more (the backpressure from the caller to the upstream transfer). An `emit` that
    /// throws stops the call.
    func stream(
        _ request: consuming InferenceRequest,
        context: CallContext,
        emit: @escaping EventSink
    ) async throws(CallFailure)
        -> SavingsRecord

    /// The models the service routes today (a transport's model listing). The default is none.
    func models() -> [ModelListing]
}

extension InferenceService {
    public func models() -> [ModelListing] { [] }
}

/// Where a streaming call's events go: suspends while the caller is not ready; throws when the
/// caller is gone (the call then stops).
public typealias EventSink = @Sendable (StreamEvent) async throws -> Void

/// Who is calling, and how the call is logged.
public struct CallContext: Sendable {
    /// The tenant the call is billed to (authenticated by the transport).
    public var tenant: Tenant
    /// The call's metadata from the transport (the binary protocol's HEADERS metadata).
    public var metadata: [String: String]
    /// At `debug` and `trace`, carries the call's identity (`request_id`, `tenant`, and the
    /// transport's own, e.g. `stream`); above, the transport adds it to its own lines about the call
    /// instead (a logger per call costs every waiting call its metadata).
    public var logger: Logger
    /// When the call arrived at the transport (the binary protocol's HEADERS, the end of the HTTP
    /// door's request): its `start_within` budget and its time to start count from here.
    public var arrival: ContinuousClock.Instant
    /// When the transport stops the call (its deadline, or the server's longest call); nil for
    /// none. The service waits for nothing that would end past it (a retry's backoff).
    public var deadline: ContinuousClock.Instant?

    public init(
        tenant: Tenant,
        metadata: [String: String] = [:],
        logger: Logger,
        arrival: ContinuousClock.Instant = .now,
        deadline: ContinuousClock.Instant? = nil
    ) {
        self.tenant = tenant
        self.metadata = metadata
        self.logger = logger
        self.arrival = arrival
        self.deadline = deadline
    }
}
