internal import FlexCatalog
public import FlexCore
internal import Foundation

/// How the simulated providers behave: latency and speed per tier, the flex capacity model and
/// injected faults. Built-ins: ``Profile/builtIn(named:)``; files: ``Profile/load(path:)``
/// (format in the FlexSim documentation, *Profiles*). Times are in simulated seconds; `--time-scale`
/// divides every delay at run time.
public struct Profile: Sendable, Equatable, Codable {
    public var name: String
    public var description: String?
    public var tiers: [String: TierBehaviour]
    public var flex: FlexCapacity
    /// Chance that a priority request is served (and billed) at standard instead.
    public var priorityDowngradeProbability: Double
    public var faults: [ProfileFault]

    public struct TierBehaviour: Sendable, Equatable, Codable {
        /// Time from the start of service to the first output token (seconds).
        public var ttftSeconds: Distribution
        /// Output speed; 0 means "all at once".
        public var tokensPerSecond: Double

        public init(ttftSeconds: Distribution, tokensPerSecond: Double) {
            self.ttftSeconds = ttftSeconds
            self.tokensPerSecond = tokensPerSecond
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case ttftSeconds = "ttft_s"
            case tokensPerSecond = "tokens_per_s"
        }
    }

    public struct FlexCapacity: Sendable, Equatable, Codable {
        /// Chance of an immediate capacity refusal in normal times.
        public var refusalProbability: Double
        /// Time-correlated scarcity: time is cut into windows; a window is scarce with probability
        /// `fraction` (drawn from the seed and the window number), and in a scarce window refusals
        /// and queue waits are higher.
        public var scarce: Scarcity
        /// Queue wait before service starts, in normal times.
        public var queueWaitSeconds: Distribution
        /// Flex requests served at once per provider; more queue behind them (0 = unlimited).
        public var concurrency: Int
        /// A request whose wait would be longer than this is refused instead.
        public var maxQueueWaitSeconds: Double
        /// For streaming flex requests, send the API's pre-output events while queued (the FlexSim documentation, *What counts as started*).
        public var preambleWhileQueued: Bool

        enum CodingKeys: String, CodingKey, CaseIterable {
            case refusalProbability = "refusal_probability"
            case scarce
            case queueWaitSeconds = "queue_wait_s"
            case concurrency
            case maxQueueWaitSeconds = "max_queue_wait_s"
            case preambleWhileQueued = "preamble_while_queued"
        }
    }

    public struct Scarcity: Sendable, Equatable, Codable {
        public var fraction: Double
        public var windowSeconds: Double
        public var refusalProbability: Double
        public var waitMultiplier: Double
        /// Scarce spans of simulated time, in place of the random windows when not empty: flex is
        /// scarce exactly from each span's start (included) to its end (excluded), so a test can
        /// script "good, then scarce, then good again".
        public var schedule: [ScarceSpan] = []

        public static let none = Scarcity(fraction: 0, windowSeconds: 60, refusalProbability: 0, waitMultiplier: 1)

        enum CodingKeys: String, CodingKey, CaseIterable {
            case fraction
            case windowSeconds = "window_s"
            case refusalProbability = "refusal_probability"
            case waitMultiplier = "wait_multiplier"
            case schedule
        }
    }

    /// A scarce span of simulated time: [from, to) seconds since flexsim started.
    public struct ScarceSpan: Sendable, Equatable, Codable {
        public var fromSeconds: Double
        public var toSeconds: Double

        public init(fromSeconds: Double, toSeconds: Double) {
            self.fromSeconds = fromSeconds
            self.toSeconds = toSeconds
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case fromSeconds = "from_s"
            case toSeconds = "to_s"
        }
    }

    public struct ProfileFault: Sendable, Equatable, Codable {
        public var probability: Double
        /// In `x-flexsim-fault` syntax.
        public var fault: String
        /// When set, only requests whose tier field (`service_tier` / `serviceTier`) holds exactly this
        /// value are affected, e.g. `flex` to fail flex attempts and let standard ones through.
        public var tier: String?

        public init(probability: Double, fault: String, tier: String? = nil) {
            self.probability = probability
            self.fault = fault
            self.tier = tier
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case probability, fault, tier
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, description, tiers, flex
        case priorityDowngradeProbability = "priority_downgrade_probability"
        case faults
    }

    public init(
        name: String,
        description: String?,
        tiers: [Tier: TierBehaviour],
        flex: FlexCapacity,
        priorityDowngradeProbability: Double = 0,
        faults: [ProfileFault] = []
    ) {
        self.name = name
        self.description = description
        self.tiers = Dictionary(uniqueKeysWithValues: tiers.map { ($0.key.name, $0.value) })
        self.flex = flex
        self.priorityDowngradeProbability = priorityDowngradeProbability
        self.faults = faults
    }

    /// The behaviour of `tier` (standard's when the profile does not list it).
    public func behaviour(of tier: Tier) -> TierBehaviour {
        self.tiers[tier.name] ?? self.tiers[Tier.standard.name] ?? TierBehaviour(ttftSeconds: .zero, tokensPerSecond: 0)
    }

    /// Checks the rules the format states; the error names the field.
    public func validate() throws(ProfileError) {
        guard !self.name.isEmpty else { throw ProfileError("name must not be empty") }
        guard !self.tiers.isEmpty else { throw ProfileError("tiers must list at least one tier") }
        for (key, _) in self.tiers where Tier(name: key).map({ !Tier.served.contains($0) }) ?? true {
            throw ProfileError("tiers.\(key): unknown tier (flex, standard, priority)")
        }
        func probability(_ p: Double, _ field: String) throws(ProfileError) {
            guard p >= 0, p <= 1 else { throw ProfileError("\(field) must be between 0 and 1") }
        }
        try probability(self.flex.refusalProbability, "flex.refusal_probability")
        try probability(self.flex.scarce.fraction, "flex.scarce.fraction")
        try probability(self.flex.scarce.refusalProbability, "flex.scarce.refusal_probability")
        try probability(self.priorityDowngradeProbability, "priority_downgrade_probability")
        guard self.flex.scarce.windowSeconds > 0 else { throw ProfileError("flex.scarce.window_s must be positive") }
        for (index, span) in self.flex.scarce.schedule.enumerated()
        where !(span.fromSeconds >= 0 && span.toSeconds > span.fromSeconds) {
            throw ProfileError("flex.scarce.schedule[\(index)] must have 0 <= from_s < to_s")
        }
        guard self.flex.scarce.waitMultiplier >= 0 else {
            throw ProfileError("flex.scarce.wait_multiplier must be >= 0")
        }
        guard self.flex.concurrency >= 0 else { throw ProfileError("flex.concurrency must be >= 0") }
        guard self.flex.maxQueueWaitSeconds >= 0 else { throw ProfileError("flex.max_queue_wait_s must be >= 0") }
        for (key, tier) in self.tiers where !(tier.tokensPerSecond >= 0) {
            throw ProfileError("tiers.\(key).tokens_per_s must be >= 0")
        }
        for (index, fault) in self.faults.enumerated() {
            try probability(fault.probability, "faults[\(index)].probability")
            do { _ = try Fault.parseList(fault.fault) } catch {
                throw ProfileError("faults[\(index)].fault: cannot read \"\(error.item)\"")
            }
        }
    }

    /// Reads and validates a profile file.
    public static func load(path: String) throws(ProfileError) -> Profile {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ProfileError("cannot read \(path): \(error.localizedDescription)")
        }
        do throws(ProfileError) { return try Self.decode(data) } catch {
            throw ProfileError("\(path): \(error.description)")
        }
    }

    /// Reads and validates a profile document (the contents of a profile file). Every field but
    /// `name` and `tiers` is optional (defaults in the FlexSim documentation, *Profiles*); an
    /// unknown field, a wrong type or a value out of range is an error that names the field.
    public static func decode(json: String) throws(ProfileError) -> Profile {
        try Self.decode(Data(json.utf8))
    }

    static func decode(_ data: Data) throws(ProfileError) -> Profile {
        let profile: Profile
        do { profile = try JSONDecoder().decode(Profile.self, from: data) } catch let error as DecodingError {
            throw ProfileError(decoding: error)
        } catch {
            throw ProfileError("\(error)")
        }
        try profile.validate()
        return profile
    }

    /// `instant`, `calm`, `busy`, `realistic` or `outage`.
    public static func builtIn(named name: String) -> Profile? {
        switch name {
        case "instant": .instant
        case "calm": .calm
        case "busy": .busy
        case "realistic": .realistic
        case "outage": .outage
        default: nil
        }
    }

    public static let builtInNames = ["instant", "calm", "busy", "realistic", "outage"]
}

/// Why a profile was rejected.
public struct ProfileError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
