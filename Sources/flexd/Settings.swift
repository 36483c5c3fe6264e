import ArgumentParser
import FlexCodec
import FlexHTTP
import FlexLedger
import FlexRouter
import FlexServer
import Foundation
import Logging

/// `flexd serve`'s options resolved (flag, then config file, then default) and checked. Every
/// problem is a `ValidationError` naming the option, so flexd fails fast with a clear message.
struct Settings {
    var listenHost: String
    var listenPort: Int
    var admin: (host: String, port: Int)?
    var keysPath: String?
    var upstream: String
    var baseURLs: [Provider: String]
    var simProfile: String
    var simSeed: UInt64
    var simTimeScale: Double
    var catalogPath: String?
    var correlationHeader: String?
    var server: FlexServer.Configuration
    var connectTimeout: Duration
    var responseHeadTimeout: Duration
    var upstreamIdleTimeout: Duration
    var upstreamConnections: Int
    /// CA certificates (PEM) trusted for upstream TLS instead of the system store; nil: the store.
    var upstreamCAFile: String?
    /// `--upstream-http-version`: HTTP/2 over TLS where the provider offers it, or HTTP/1.1 only.
    var upstreamHTTPVersion: HTTPClient.HTTPVersionPolicy
    /// nil: `--ledger none`.
    var ledger: LedgerLocation?
    var instanceID: String
    var flexAttempts: Int
    /// The adaptive flex policy's settings; nil: the fixed policy.
    var flexPolicy: AdaptiveFlexPolicy.Configuration?
    /// Re-sends to the settled tier for calls without a retry option of their own.
    var retries: Int
    var logLevel: Logger.Level

    init(_ options: ServeCommand) throws {
        let file = try options.config.map(Self.loadConfigFile) ?? [:]
        func string(_ flag: String?, _ key: String) throws -> String? {
            if let flag { return flag }
            guard let value = file[key] else { return nil }
            guard let text = value as? String else { throw ValidationError("config file: \"\(key)\" must be a string") }
            return text
        }
        func number(_ flag: Double?, _ key: String) throws -> Double? {
            if let flag { return flag }
            guard let value = file[key] else { return nil }
            guard let number = (value as? NSNumber)?.doubleValue, !(value is Bool) else {
                throw ValidationError("config file: \"\(key)\" must be a number")
            }
            return number
        }
        func integer(_ flag: Int?, _ key: String, _ fallback: Int, _ range: ClosedRange<Int>) throws -> Int {
            let value = try flag.map(Double.init) ?? number(nil, key) ?? Double(fallback)
            guard value.rounded() == value, range.contains(Int(value)) else {
                throw ValidationError(
                    "--\(key) must be a whole number in \(range.lowerBound)...\(range.upperBound), not \(value)"
                )
            }
            return Int(value)
        }
        func seconds(_ flag: Double?, _ key: String, _ fallback: Double) throws -> Duration {
            let value = try number(flag, key) ?? fallback
            guard value > 0, value <= 86_400 * 7 else {
                throw ValidationError("--\(key) must be a number of seconds above 0, not \(value)")
            }
            return .milliseconds(Int64(value * 1000))
        }

        (self.listenHost, self.listenPort) = try Self.hostPort(
            try string(options.listen, "listen") ?? "127.0.0.1:7400",
            option: "listen"
        )
        let admin = try string(options.adminListen, "admin-listen") ?? "127.0.0.1:7401"
        self.admin = admin == "off" ? nil : try Self.hostPort(admin, option: "admin-listen")
        self.keysPath = try string(options.keys, "keys")
        self.upstream = try string(options.upstream, "upstream") ?? "providers"
        guard ["providers", "sim"].contains(self.upstream) else {
            throw ValidationError("--upstream must be \"providers\" or \"sim\", not \"\(self.upstream)\"")
        }
        var urls = RouterConfiguration.productionBaseURLs
        for (provider, flag, key) in [
            (Provider.openAI, options.openaiBaseUrl, "openai-base-url"),
            (.anthropic, options.anthropicBaseUrl, "anthropic-base-url"),
            (.gemini, options.geminiBaseUrl, "gemini-base-url"),
        ] {
            if let url = try string(flag, key) {
                guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
                    throw ValidationError("--\(key) must be an http:// or https:// URL, not \(url)")
                }
                urls[provider] = url.hasSuffix("/") ? String(url.dropLast()) : url
            }
        }
        self.baseURLs = urls
        self.simProfile = try string(options.simProfile, "sim-profile") ?? "realistic"
        self.simSeed = UInt64(try integer(options.simSeed.map { Int(clamping: $0) }, "sim-seed", 1, 0...Int.max))
        self.simTimeScale = try number(options.simTimeScale, "sim-time-scale") ?? 1
        guard self.simTimeScale > 0, self.simTimeScale <= 10_000 else {
            throw ValidationError("--sim-time-scale must be in (0, 10000]")
        }
        self.catalogPath = try string(options.catalog, "catalog")
        self.correlationHeader =
            try string(options.correlationHeader, "correlation-header")
            ?? (self.upstream == "sim" ? "x-flexsim-correlation-id" : nil)

        let limits = ResolvedLimits(
            maxMessageSize: try integer(
                options.maxMessageSize,
                "max-message-size",
                ProtocolDefaults.maxMessageSize,
                ProtocolDefaults.minimumMaxMessageSize...ProtocolDefaults.maximumMaxMessageSize
            ),
            maxConcurrentStreams: try integer(
                options.maxConcurrentStreams,
                "max-concurrent-streams",
                ProtocolDefaults.maxConcurrentStreams,
                1...100_000
            ),
            initialWindowSize: try integer(
                options.initialWindowSize,
                "initial-window-size",
                ProtocolDefaults.initialWindowSize,
                1024...Int(ProtocolDefaults.maxWindowSize)
            )
        )
        self.server = FlexServer.Configuration(
            host: self.listenHost,
            port: self.listenPort,
            connection: .init(limits: limits),
            maxConnections: try integer(options.maxConnections, "max-connections", 1024, 1...1_000_000),
            maxCallsInFlight: try integer(options.maxCallsInFlight, "max-calls-in-flight", 20_000, 1...10_000_000),
            handshakeTimeout: try seconds(options.handshakeTimeout, "handshake-timeout", 10),
            idleTimeout: try seconds(options.idleTimeout, "idle-timeout", 300),
            maxCallDuration: try seconds(options.maxCallDuration, "max-call-duration", 3600),
            drainGracePeriod: try seconds(options.drainGrace, "drain-grace", 30),
            drainDelay: try Self.drainDelay(number(options.drainDelay, "drain-delay"))
        )
        let http = try string(options.httpListen, "http-listen") ?? "127.0.0.1:7402"
        if http != "off" {
            let (host, port) = try Self.hostPort(http, option: "http-listen")
            self.server.http = FlexServer.HTTPDoorConfiguration(
                host: host,
                port: port,
                maxBodyBytes: try integer(
                    options.httpMaxBodyBytes,
                    "http-max-body-bytes",
                    16 * 1024 * 1024,
                    1024...1 << 30
                ),
                requestTimeout: try seconds(options.httpRequestTimeout, "http-request-timeout", 30),
                keepAliveTimeout: try seconds(options.httpKeepaliveTimeout, "http-keepalive-timeout", 60)
            )
        }
        self.connectTimeout = try seconds(options.connectTimeout, "connect-timeout", 10)
        self.responseHeadTimeout = try seconds(options.responseHeadTimeout, "response-head-timeout", 600)
        self.upstreamIdleTimeout = try seconds(options.upstreamIdleTimeout, "upstream-idle-timeout", 120)
        self.upstreamConnections = try integer(options.upstreamConnections, "upstream-connections", 256, 1...100_000)
        self.upstreamCAFile = try string(options.upstreamCAFile, "upstream-ca-file")
        if let path = self.upstreamCAFile {
            // libcurl would only say "TLS failed" on each call; a path that cannot be read is the
            // operator's mistake, said at start.
            guard FileManager.default.isReadableFile(atPath: path),
                let contents = FileManager.default.contents(atPath: path),
                String(decoding: contents, as: UTF8.self).contains("-----BEGIN CERTIFICATE-----")
            else {
                throw ValidationError("--upstream-ca-file: \(path) is not a readable PEM file of CA certificates")
            }
        }
        switch try string(options.upstreamHTTPVersion, "upstream-http-version") ?? "2" {
        case "2": self.upstreamHTTPVersion = .http2OverTLS
        case "1.1": self.upstreamHTTPVersion = .http1Only
        case let other:
            throw ValidationError("--upstream-http-version must be \"2\" or \"1.1\", not \"\(other)\"")
        }
        self.flexAttempts = try integer(options.flexAttempts, "flex-attempts", 1, 1...10)
        let policy = try string(options.flexPolicy, "flex-policy") ?? "fixed"
        guard ["fixed", "adaptive"].contains(policy) else {
            throw ValidationError("--flex-policy must be \"fixed\" or \"adaptive\", not \"\(policy)\"")
        }
        let adaptive = AdaptiveFlexPolicy.Configuration(
            threshold: try number(options.flexThreshold, "flex-threshold") ?? 0.2,
            scarceRefusalRate: try number(options.flexScarceRefusalRate, "flex-scarce-refusal-rate") ?? 0.8,
            exploration: try number(options.flexExploration, "flex-exploration") ?? 0.1,
            halfLife: try seconds(options.flexHalfLife, "flex-half-life", 30),
            minimumEvidence: try number(options.flexMinEvidence, "flex-min-evidence") ?? 8,
            queueFactor: try number(options.flexQueueFactor, "flex-queue-factor") ?? 1,
            spellRefusalRate: try number(options.flexSpellRefusalRate, "flex-spell-refusal-rate") ?? 0.5,
            recentHalfLife: try seconds(options.flexRecentHalfLife, "flex-recent-half-life", 2.5)
        )
        if let problem = adaptive.problem { throw ValidationError("--flex-policy adaptive: \(problem)") }
        self.flexPolicy = policy == "adaptive" ? adaptive : nil
        self.retries = try integer(options.retries, "retries", 0, 0...RetryOption.maximumCount)
        let environment = ProcessInfo.processInfo.environment
        let ledger = try string(options.ledger, "ledger")
        if ledger == "none" {
            self.ledger = nil
        } else if let ledger {
            do {
                self.ledger = try LedgerLocation(parsing: ledger, environment: environment)
            } catch {
                throw ValidationError("--ledger: \(error.message)")
            }
        } else {
            let directory =
                try string(options.dataDir, "data-dir") ?? LedgerLocation.defaultDataDirectory(environment: environment)
            self.ledger = .defaultLocation(dataDirectory: directory)
        }
        self.instanceID = try string(options.instanceID, "instance-id") ?? ProcessInfo.processInfo.hostName
        guard !self.instanceID.isEmpty, self.instanceID.utf8.count <= 256, !self.instanceID.utf8.contains(0) else {
            throw ValidationError("--instance-id must be 1 to 256 bytes")
        }
        let level = try string(options.logLevel, "log-level") ?? "info"
        guard let logLevel = Logger.Level(rawValue: level) else {
            throw ValidationError(
                "--log-level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")), not \(level)"
            )
        }
        self.logLevel = logLevel
        for host in [self.listenHost] + (self.server.http.map { [$0.host] } ?? [])
        where self.keysPath == nil && !Self.isLoopback(host) {
            throw ValidationError("without --keys flexd serves only on loopback; \(host) is not a loopback address")
        }
    }

    static func loadConfigFile(_ path: String) throws -> [String: Any] {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ValidationError("cannot read the config file \(path): \(error.localizedDescription)")
        }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ValidationError("the config file \(path) must hold one JSON object")
        }
        let known = Set(ServeCommand.knownConfigKeys)
        for key in object.keys where !known.contains(key) {
            throw ValidationError(
                "the config file \(path) has an unknown key \"\(key)\" (keys are the long option names, e.g. \"listen\")"
            )
        }
        return object
    }

    static func hostPort(_ text: String, option: String) throws -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65_535).contains(port)
        else {
            throw ValidationError("--\(option) must be HOST:PORT, not \(text)")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw ValidationError("--\(option) must be HOST:PORT, not \(text)") }
        return (host, port)
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}

extension Settings {
    /// `--drain-delay`: 0 (the default) or a number of seconds up to an hour.
    static func drainDelay(_ value: Double?) throws -> Duration {
        let value = value ?? 0
        guard value >= 0, value <= 3600 else {
            throw ValidationError("--drain-delay must be a number of seconds from 0 to 3600, not \(value)")
        }
        return .milliseconds(Int64(value * 1000))
    }
}

extension ServeCommand {
    /// The keys a config file may hold: every option but `config` itself.
    static let knownConfigKeys = [
        "listen", "admin-listen", "keys", "upstream", "openai-base-url", "anthropic-base-url", "gemini-base-url",
        "sim-profile",
        "sim-seed", "sim-time-scale", "catalog", "correlation-header", "max-connections", "max-calls-in-flight",
        "max-concurrent-streams",
        "max-message-size", "initial-window-size", "handshake-timeout", "idle-timeout", "max-call-duration",
        "drain-grace", "drain-delay",
        "connect-timeout", "response-head-timeout", "upstream-idle-timeout", "upstream-connections", "upstream-ca-file",
        "upstream-http-version",
        "flex-attempts", "flex-policy", "flex-threshold", "flex-scarce-refusal-rate", "flex-exploration",
        "flex-half-life", "flex-min-evidence", "flex-queue-factor",
        "flex-spell-refusal-rate", "flex-recent-half-life",
        "retries", "ledger",
        "data-dir", "instance-id", "log-level", "http-listen", "http-max-body-bytes", "http-request-timeout",
        "http-keepalive-timeout",
    ]
}
