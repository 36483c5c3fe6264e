import ArgumentParser
import FlexCatalog
import FlexCore
import FlexHTTP
import FlexLedger
import FlexRouter
import FlexServer
import FlexSim
import Foundation
import Logging
import Metrics
import NIOPosix
import Prometheus
import ServiceLifecycle
import UnixSignals

/// `flexd serve`: runs the server until SIGTERM/SIGINT, then drains.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the server (the default command).",
        discussion: """
            Every option can also come from a JSON config file (--config), whose keys are the long \
            option names without dashes in front (e.g. {"listen": "0.0.0.0:7400", "keys": "keys.json"}). \
            An option given on the command line wins over the file; the file wins over the default.
            """
    )

    @Option(help: "Read options from this JSON file.")
    var config: String?

    // MARK: Listening

    @Option(help: "HOST:PORT to serve the protocol on. (default: 127.0.0.1:7400)")
    var listen: String?

    @Option(
        help:
            "HOST:PORT of the admin HTTP endpoint (/metrics, /healthz, /readyz), or \"off\". (default: 127.0.0.1:7401)"
    )
    var adminListen: String?

    @Option(
        help:
            "HOST:PORT of the HTTP door for the providers' SDKs (base URLs /openai/v1, /anthropic, /gemini, /v1), or \"off\". (default: 127.0.0.1:7402)"
    )
    var httpListen: String?

    @Option(help: "HTTP door: the largest request body, in bytes; larger is 413. (default: 16777216)")
    var httpMaxBodyBytes: Int?

    @Option(help: "HTTP door: seconds from a request's first byte to its last; longer is 408. (default: 30)")
    var httpRequestTimeout: Double?

    @Option(help: "HTTP door: seconds a keep-alive connection may wait for its next request. (default: 60)")
    var httpKeepaliveTimeout: Double?

    @Option(
        help:
            "Keys file: tenants, the SHA-256 of their flexd API keys, their provider keys. Without one, flexd serves only on loopback, as one anonymous tenant."
    )
    var keys: String?

    // MARK: Upstream

    @Option(
        help:
            "\"providers\" (the real APIs) or \"sim\" (an in-process flexsim on a loopback port). (default: providers)"
    )
    var upstream: String?

    @Option(help: "OpenAI base URL. (default: https://api.openai.com/v1)")
    var openaiBaseUrl: String?

    @Option(help: "Anthropic base URL. (default: https://api.anthropic.com/v1)")
    var anthropicBaseUrl: String?

    @Option(help: "Gemini base URL. (default: https://generativelanguage.googleapis.com/v1beta)")
    var geminiBaseUrl: String?

    @Option(
        help:
            "With --upstream sim: flexsim's profile, a built-in name (instant, calm, busy, realistic, outage) or a file. (default: realistic)"
    )
    var simProfile: String?

    @Option(help: "With --upstream sim: flexsim's seed. (default: 1)")
    var simSeed: UInt64?

    @Option(help: "With --upstream sim: divide flexsim's waits and generation times by this. (default: 1)")
    var simTimeScale: Double?

    @Option(help: "A catalog file whose models override or extend the built-in model catalog.")
    var catalog: String?

    @Option(
        help:
            "A request header that carries each call's request id upstream, for matching a simulator's ledger (e.g. x-flexsim-correlation-id). (default: none; with --upstream sim: x-flexsim-correlation-id)"
    )
    var correlationHeader: String?

    // MARK: Limits

    @Option(help: "Connections open at once. (default: 1024)")
    var maxConnections: Int?

    @Option(help: "Calls running at once over all connections. (default: 20000)")
    var maxCallsInFlight: Int?

    @Option(help: "Calls open at once on one connection (announced in HELLO). (default: 100)")
    var maxConcurrentStreams: Int?

    @Option(help: "Largest frame payload and message, in bytes (16 KiB...64 MiB). (default: 4194304)")
    var maxMessageSize: Int?

    @Option(help: "Initial per-stream flow-control window, in bytes. (default: 1048576)")
    var initialWindowSize: Int?

    @Option(
        help:
            "Seconds a new connection has to send its preface and HELLO, and a call its request after its HEADERS. (default: 10)"
    )
    var handshakeTimeout: Double?

    @Option(help: "Seconds after which a connection with no call is closed. (default: 300)")
    var idleTimeout: Double?

    @Option(help: "Longest a call may run, in seconds, whatever deadline it asks for. (default: 3600)")
    var maxCallDuration: Double?

    @Option(help: "Seconds a drain (SIGTERM) lets running calls finish. (default: 30)")
    var drainGrace: Double?

    @Option(
        help:
            "Seconds a drain keeps serving after /readyz turned 503 and before it sends GOAWAY, so a balancer stops sending new connections first. (default: 0)"
    )
    var drainDelay: Double?

    @Option(help: "Seconds to connect to a provider. (default: 10)")
    var connectTimeout: Double?

    @Option(help: "Seconds to a provider's response head on a non-flex attempt. (default: 600)")
    var responseHeadTimeout: Double?

    @Option(help: "Seconds of silence tolerated from a provider once a call has started. (default: 120)")
    var upstreamIdleTimeout: Double?

    @Option(
        help:
            "Connections open at once to one provider host (HTTP/1.1: one call each; HTTP/2: up to 100 calls each). (default: 256)"
    )
    var upstreamConnections: Int?

    @Option(
        name: .customLong("upstream-ca-file"),
        help:
            "A PEM file of CA certificates to trust for the providers' TLS instead of the system store (e.g. a test proxy's CA). (default: the system store)"
    )
    var upstreamCAFile: String?

    @Option(
        name: .customLong("upstream-http-version"),
        help:
            "2: HTTP/2 over TLS where the provider offers it (calls to one host share connections), HTTP/1.1 otherwise. 1.1: HTTP/1.1 only, a connection per call in flight (see the flexd documentation on libcurl 7.88's HTTP/2 defects). (default: 2)"
    )
    var upstreamHTTPVersion: String?

    @Option(
        help: "Flex attempts per call when flex refuses for capacity and budget is left (1 = no retry). (default: 1)"
    )
    var flexAttempts: Int?

    @Option(
        help:
            "fixed: every flex-first call waits for flex until its budget runs out. adaptive: learn per provider and model when flex starts; calls flex is not expected to start for in time go to standard at once or stop waiting early (flex_scarce, flex_predicted_late). (default: fixed)"
    )
    var flexPolicy: String?

    @Option(
        help:
            "adaptive: below this chance that an admitted flex attempt starts within the budget (left), a call does not wait for flex (0-1). (default: 0.2)"
    )
    var flexThreshold: Double?

    @Option(
        help:
            "adaptive: at or above this share of refused flex attempts, a call does not try flex (flex_scarce) (0-1). (default: 0.8)"
    )
    var flexScarceRefusalRate: Double?

    @Option(
        help:
            "adaptive: the share of the calls it would send to standard that try flex anyway, so it sees flex come back (0-1); a probe of scarce flex stops once admitted if flex is still scarce. (default: 0.1)"
    )
    var flexExploration: Double?

    @Option(
        help: "adaptive: seconds after which a flex attempt's outcome weighs half as much. (default: 30)"
    )
    var flexHalfLife: Double?

    @Option(
        help:
            "adaptive: the weight of recent flex attempts below which it does not decide (calls wait out their budget). (default: 8)"
    )
    var flexMinEvidence: Double?

    @Option(
        help:
            "adaptive: a call does not wait for flex when the flex attempts waiting now, at the rate attempts started lately, take longer than this many times its budget to start (flex_predicted_late); 0 turns this queue rule off. (default: 1)"
    )
    var flexQueueFactor: Double?

    @Option(
        help:
            "adaptive: at or above this share of refusals among the flex attempts sent lately, flex is in a scarce spell: attempts sent in one are learned apart and calls in one are decided on what spells taught (0-1; 1 turns spells off). (default: 0.5)"
    )
    var flexSpellRefusalRate: Double?

    @Option(
        help:
            "adaptive: seconds after which a refusal or a start weighs half as much in the recent rates (a scarce spell's refusals, the queue rule's start rate). (default: 2.5)"
    )
    var flexRecentHalfLife: Double?

    @Option(
        help:
            "Re-sends to the tier a call settled on after a 429, a 5xx or a connection failure, for calls that set no retry option (0-5, 0 = off; exponential backoff from 0.5 s with jitter, Retry-After honoured). (default: 0)"
    )
    var retries: Int?

    @Option(
        help: ArgumentHelp(
            "The savings ledger: sqlite:PATH, postgres://USER@HOST:PORT/DATABASE (PGPASSWORD when the URL has none), or none. (default: ledger.sqlite in the data folder)",
            valueName: "ledger"
        )
    )
    var ledger: String?

    @Option(
        name: .customLong("data-dir"),
        help:
            "flexd's data folder, where the default ledger is. (default: $FLEXD_DATA_DIR, else $XDG_DATA_HOME/flexd, else ~/.local/share/flexd)"
    )
    var dataDir: String?

    @Option(
        name: .customLong("instance-id"),
        help: "This instance's id in the ledger's records; keep it stable across restarts. (default: the host name)"
    )
    var instanceID: String?

    @Option(help: "trace, debug, info, notice, warning, error or critical. (default: info)")
    var logLevel: String?

    func run() async throws {
        let settings = try Settings(self)
        MallocArenas.configure()
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = settings.logLevel
            return handler
        }
        let logger = Logger(label: "flexd")
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

        var catalog = try Catalog.builtIn()
        if let path = settings.catalogPath {
            do {
                catalog = catalog.merging(try Catalog.load(path: path))
            } catch {
                throw ValidationError("cannot load the catalog override \(path): \(error)")
            }
        }
        let tenants: TenantDirectory
        if let path = settings.keysPath {
            do {
                tenants = try TenantDirectory(keysFile: path)
            } catch {
                throw ValidationError(error.description)
            }
        } else {
            tenants = .open
            logger.notice("no keys file: serving only on loopback, every call is the anonymous tenant")
        }

        var services: [any Service] = []
        var recorder: LedgerRecorder?
        if let location = settings.ledger {
            do {
                let ledger = try await Ledger.open(location, logger: Logger(label: "flexd.ledger"))
                recorder = LedgerRecorder(ledger: ledger, instanceID: settings.instanceID, logger: logger)
                logger.notice(
                    "savings ledger open",
                    metadata: ["ledger": "\(location)", "instance_id": "\(settings.instanceID)"]
                )
            } catch {
                throw ValidationError("cannot open the savings ledger \(location): \(error)")
            }
        } else {
            logger.warning(
                "--ledger none: no savings records are kept, so no fee can be billed for this instance's calls"
            )
        }
        // Listed first, so it closes last: after the server has drained and recorded every call.
        if let recorder { services.append(recorder) }
        var baseURLs = settings.baseURLs
        if settings.upstream == "sim" {
            let sim = try await EmbeddedSimulator.start(
                profile: settings.simProfile,
                seed: settings.simSeed,
                timeScale: settings.simTimeScale,
                catalog: catalog
            )
            baseURLs = RouterConfiguration.flexsim("http://127.0.0.1:\(sim.port)")
            logger.notice(
                "upstream: in-process flexsim",
                metadata: ["port": "\(sim.port)", "profile": "\(settings.simProfile)"]
            )
            services.append(sim)
        }

        var httpConfiguration = HTTPClient.Configuration.defaults
        httpConfiguration.connectionPool.maximumConnectionsPerHost = settings.upstreamConnections
        httpConfiguration.connectionPool.maximumIdleConnections = min(settings.upstreamConnections, 1024)
        httpConfiguration.tls.caFile = settings.upstreamCAFile
        httpConfiguration.httpVersion = settings.upstreamHTTPVersion
        let http = try HTTPClient(configuration: httpConfiguration)
        logger.info("libcurl", metadata: ["version": "\(HTTPClient.libcurlVersion)"])
        if HTTPClient.hasLegacyHTTP2, settings.upstreamHTTPVersion == .http2OverTLS,
            baseURLs.values.contains(where: { $0.hasPrefix("https://") })
        {
            logger.notice(
                """
                libcurl before 8.1 over HTTP/2: every streamed answer ends with a RST_STREAM, which servers \
                that limit resets may answer by closing the connection (see flexd's Configuration article, \
                HTTP/2 upstreams; --upstream-http-version 1.1 avoids it)
                """,
                metadata: ["libcurl": "\(HTTPClient.libcurlVersion)"]
            )
        }
        do {
            var routerConfiguration = RouterConfiguration(
                baseURLs: baseURLs,
                catalog: catalog,
                connectTimeout: settings.connectTimeout,
                responseHeadTimeout: settings.responseHeadTimeout,
                idleTimeout: settings.upstreamIdleTimeout,
                correlationHeader: settings.correlationHeader
            )
            routerConfiguration.retryPolicy = RaceStateMachine.RetryPolicy(maxFlexAttempts: settings.flexAttempts)
            routerConfiguration.flexPolicy =
                settings.flexPolicy.map { .adaptive(AdaptiveFlexPolicy(configuration: $0)) } ?? .fixed
            routerConfiguration.defaultRetry = RetryOption(count: UInt32(settings.retries))
            let router = Router(
                configuration: routerConfiguration,
                httpClient: http,
                timers: DeadlineTimers(on: MultiThreadedEventLoopGroup.singleton.next())
            )
            // The executable is where the router goes behind the server: the server knows only the
            // service seam.
            var serverConfiguration = settings.server
            serverConfiguration.releaseMemory = MallocArenas.releaseFreeMemory
            let server = FlexServer(
                configuration: serverConfiguration,
                service: router,
                tenants: tenants,
                recorder: recorder,
                logger: logger
            )
            // The service group stops services in reverse order, each after the one before it has
            // ended: the server drains first while the admin endpoint still answers (/readyz 503
            // for the balancers, /metrics), then the admin endpoint, then the ledger.
            if let admin = settings.admin {
                services.append(
                    AdminServer(host: admin.host, port: admin.port, registry: registry, server: server, logger: logger)
                )
            }
            services.append(server)
            let group = ServiceGroup(
                configuration: .init(
                    services: services.map { .init(service: $0) },
                    gracefulShutdownSignals: [.sigterm, .sigint],
                    logger: logger
                )
            )
            try await group.run()
        } catch {
            await http.shutdown()
            throw error
        }
        await http.shutdown()
    }
}
