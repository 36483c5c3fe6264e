import FlexCatalog
public import FlexCodec
import FlexHTTP
public import FlexRouter
public import FlexServer
public import FlexSim
public import Logging
import NIOCore

/// A FlexServer on a free loopback port, routing to an in-process flexsim (or serving any
/// `InferenceService`), drained and stopped when the test body returns.
public struct ServerFixture {
    public let server: FlexServer
    public let port: Int
    public let sim: FlexsimFixture

    public static func with<T: Sendable>(
        profile: Profile = .instant,
        tenants: TenantDirectory = .open,
        service makeService: (@Sendable (Router) -> any InferenceService)? = nil,
        configure: (inout FlexServer.Configuration) -> Void = { _ in },
        logger: Logger = Logger(label: "flexd-test"),
        _ body: (ServerFixture) async throws -> T
    ) async throws -> T {
        var configuration = FlexServer.Configuration(host: "127.0.0.1", port: 0, drainGracePeriod: .seconds(5))
        configure(&configuration)
        let settings = configuration
        return try await FlexsimFixture.with(profile: profile) { sim in
            try await withHTTPClient { http in
                let router = Router(
                    configuration: RouterConfiguration(
                        baseURLs: RouterConfiguration.flexsim("http://127.0.0.1:\(sim.port)"),
                        catalog: try Catalog.builtIn(),
                        today: { CalendarDate("2026-11-26")! },
                        correlationHeader: "x-flexsim-correlation-id"
                    ),
                    httpClient: http,
                    timers: DeadlineTimers(on: sim.server.eventLoop)
                )
                let service = makeService?(router) ?? router
                let server = FlexServer(configuration: settings, service: service, tenants: tenants, logger: logger)
                let running = Task { try await server.run() }
                do {
                    let address = try await server.listeningAddress()
                    let result = try await body(ServerFixture(server: server, port: address.port ?? 0, sim: sim))
                    server.beginGracefulShutdown()
                    try await running.value
                    return result
                } catch {
                    server.beginGracefulShutdown()
                    _ = try? await running.value
                    throw error
                }
            }
        }
    }

    /// A native OpenAI Chat request (or the given API's), tagged with `id` for flexsim's ledger.
    public static func request(
        _ id: String,
        api: Api = .chatCompletions,
        startWithin: String = "00h-00m-30s",
        model: String = "gpt-5.4-mini"
    ) -> InferenceRequest {
        let body: String =
            switch api {
            case .responses: #"{"model":"\#(model)","input":"Say something short."}"#
            default: #"{"model":"\#(model)","messages":[{"role":"user","content":"Say something short."}]}"#
            }
        return InferenceRequest(
            requestID: id,
            provider: .openAI,
            api: api,
            model: model,
            startWithin: startWithin,
            providerKey: "sk-test-server",
            body: .nativeJSON(ByteBuffer(string: body))
        )
    }
}
