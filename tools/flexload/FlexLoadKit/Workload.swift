public import FlexCatalog
public import FlexCodec
internal import FlexRouter
internal import Foundation
internal import NIOCore

/// What a load run sends: a mix of calls (APIs, models, sizes, streaming share, `start_within`
/// values), from which ``Workload/call(_:)`` makes the i-th call deterministically from a seed.
///
/// Mix file (JSON):
///
/// ```json
/// {"name": "mine",
///  "calls": [{"api": "chat_completions", "model": "gpt-5.4-mini", "weight": 3},
///            {"api": "messages", "model": "claude-haiku-4-5", "weight": 1}],
///  "stream_share": 0.3,
///  "start_within": [{"value": "00h-00m-30s", "weight": 7}, {"value": "default", "weight": 3}],
///  "prompt_words": [20, 200],
///  "max_output_tokens": [64, 512],
///  "typed_share": 0}
/// ```
///
/// `typed_share` (optional, default 0) is the share of calls sent as a typed `ChatRequest` (a
/// system and a user message) instead of the API's native JSON.
///
/// A `start_within` a call's model cannot take is replaced by `"default"` for that call: a
/// duration on a model without a flex tier (all of Anthropic), `"priority"` on a model without a
/// priority price, `"auto"` on Gemini (the catalog says which).
public struct Mix: Sendable, Codable, Hashable {
    public struct Call: Sendable, Codable, Hashable {
        public var api: String
        public var model: String
        public var weight: Double
    }

    public struct Weighted: Sendable, Codable, Hashable {
        public var value: String
        public var weight: Double
    }

    public var name: String
    public var calls: [Call]
    public var streamShare: Double
    public var startWithin: [Weighted]
    public var promptWords: [Int]
    public var maxOutputTokens: [Int]
    public var typedShare: Double

    public init(
        name: String,
        calls: [Call],
        streamShare: Double,
        startWithin: [Weighted],
        promptWords: [Int],
        maxOutputTokens: [Int],
        typedShare: Double = 0
    ) {
        self.name = name
        self.calls = calls
        self.streamShare = streamShare
        self.startWithin = startWithin
        self.promptWords = promptWords
        self.maxOutputTokens = maxOutputTokens
        self.typedShare = typedShare
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.name = try c.decode(String.self, forKey: .name)
        self.calls = try c.decode([Call].self, forKey: .calls)
        self.streamShare = try c.decode(Double.self, forKey: .streamShare)
        self.startWithin = try c.decode([Weighted].self, forKey: .startWithin)
        self.promptWords = try c.decode([Int].self, forKey: .promptWords)
        self.maxOutputTokens = try c.decode([Int].self, forKey: .maxOutputTokens)
        self.typedShare = try c.decodeIfPresent(Double.self, forKey: .typedShare) ?? 0
    }

    enum CodingKeys: String, CodingKey {
        case name, calls
        case streamShare = "stream_share"
        case startWithin = "start_within"
        case promptWords = "prompt_words"
        case maxOutputTokens = "max_output_tokens"
        case typedShare = "typed_share"
    }

    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    /// Checks what a mix file can get wrong, naming the field.
    public func validate() throws(Invalid) {
        guard !self.calls.isEmpty else { throw Invalid(description: "mix \(self.name): calls is empty") }
        for (index, call) in self.calls.enumerated() {
            guard let api = Api(name: call.api) else {
                throw Invalid(
                    description:
                        "mix \(self.name): calls[\(index)].api \"\(call.api)\" is not one of \(Api.allCases.map(\.name))"
                )
            }
            guard !call.model.isEmpty, call.weight > 0 else {
                throw Invalid(
                    description: "mix \(self.name): calls[\(index)] (\(api.name)) needs a model and a positive weight"
                )
            }
        }
        guard (0...1).contains(self.streamShare) else {
            throw Invalid(description: "mix \(self.name): stream_share must be 0...1")
        }
        guard (0...1).contains(self.typedShare) else {
            throw Invalid(description: "mix \(self.name): typed_share must be 0...1")
        }
        guard !self.startWithin.isEmpty, self.startWithin.allSatisfy({ $0.weight > 0 }) else {
            throw Invalid(description: "mix \(self.name): start_within needs values with positive weights")
        }
        for (field, range) in [("prompt_words", self.promptWords), ("max_output_tokens", self.maxOutputTokens)] {
            guard range.count == 2, range[0] >= 1, range[0] <= range[1] else {
                throw Invalid(description: "mix \(self.name): \(field) must be [min, max] with 1 <= min <= max")
            }
        }
    }

    /// A mix from a built-in name or a file.
    public static func named(_ nameOrPath: String) throws(Invalid) -> Mix {
        if let builtIn = Self.builtIn[nameOrPath] { return builtIn }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: nameOrPath))
        } catch {
            throw Invalid(
                description:
                    "--mix \(nameOrPath) is neither a built-in mix (\(Self.builtIn.keys.sorted().joined(separator: ", "))) nor a readable file"
            )
        }
        let mix: Mix
        do {
            mix = try JSONDecoder().decode(Mix.self, from: data)
        } catch {
            throw Invalid(description: "mix file \(nameOrPath) is not valid: \(error)")
        }
        try mix.validate()
        return mix
    }
}

/// One planned call.
public struct PlannedCall: Sendable {
    public var index: Int
    public var request: InferenceRequest
    public var stream: Bool
}

/// Makes a mix's calls, the same ones for the same seed.
public struct Workload: Sendable {
    public let mix: Mix
    public let seed: UInt64
    /// Added to every request id, so two runs against one flexsim stay apart in its ledger.
    public let runID: String
    /// Sends every call with `start_within = "default"`: the standard-only baseline of a savings run.
    public let standardOnly: Bool
    private let calls: [(api: Api, model: String, weight: Double, flex: Bool, priority: Bool)]
    private let totalWeight: Double
    private let startWithinTotal: Double

    /// - Parameters:
    ///   - catalog: Says which tiers each model offers today; the built-in one by default.
    public init(mix: Mix, seed: UInt64, runID: String, standardOnly: Bool = false, catalog: Catalog? = nil) {
        self.mix = mix
        self.seed = seed
        self.runID = runID
        self.standardOnly = standardOnly
        let catalog = catalog ?? (try? Catalog.builtIn())
        let today = CalendarDate.today()
        self.calls = mix.calls.compactMap { call in
            guard let api = Api(name: call.api) else { return nil }
            let entry = catalog?.model(api.provider, call.model)
            return (
                api, call.model, call.weight,
                entry?.offers(.flex, on: today) ?? (api.provider != .anthropic),
                entry?.offers(.priority, on: today) ?? false
            )
        }
        self.totalWeight = self.calls.reduce(0) { $0 + $1.weight }
        self.startWithinTotal = mix.startWithin.reduce(0) { $0 + $1.weight }
    }

    /// The provider key the load tool sends (flexsim accepts any key of the provider's shape).
    public static func testKey(_ provider: Provider) -> Secret {
        switch provider {
        case .openAI: "sk-flexload-test"
        case .anthropic: "sk-ant-flexload-test"
        case .gemini: "AIza-flexload-test"
        }
    }

    public func call(_ index: Int) -> PlannedCall {
        var random = SplitMix(seed: self.seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15)
        var pick = random.unit() * self.totalWeight
        var chosen = self.calls[0]
        for call in self.calls {
            pick -= call.weight
            if pick < 0 {
                chosen = call
                break
            }
        }
        let (api, model) = (chosen.api, chosen.model)
        var startPick = random.unit() * self.startWithinTotal
        var startWithin = self.mix.startWithin[0].value
        for option in self.mix.startWithin {
            startPick -= option.weight
            if startPick < 0 {
                startWithin = option.value
                break
            }
        }
        let isDuration = startWithin.hasSuffix("s") && startWithin.count == 11
        if (isDuration && !chosen.flex) || (startWithin == "priority" && !chosen.priority)
            || (api.provider == .gemini && startWithin == "auto")
        {
            startWithin = "default"
        }
        if self.standardOnly { startWithin = "default" }
        let words =
            Int(random.next() % UInt64(self.mix.promptWords[1] - self.mix.promptWords[0] + 1)) + self.mix.promptWords[0]
        let maxTokens =
            Int(random.next() % UInt64(self.mix.maxOutputTokens[1] - self.mix.maxOutputTokens[0] + 1))
            + self.mix.maxOutputTokens[0]
        let prompt = Self.prompt(words: words, random: &random)
        let stream = random.unit() < self.mix.streamShare
        let body: InferenceRequest.Body =
            random.unit() < self.mix.typedShare
            ? .chat(
                ChatRequest(
                    messages: [
                        ChatMessage(role: .system, content: [.text("Answer briefly.")]),
                        ChatMessage(role: .user, content: [.text(prompt)]),
                    ],
                    maxOutputTokens: UInt32(maxTokens)
                )
            )
            : .nativeJSON(ByteBuffer(string: Self.body(api, model: model, prompt: prompt, maxTokens: maxTokens)))
        let request = InferenceRequest(
            requestID: "\(self.runID)-\(index)",
            provider: api.provider,
            api: api,
            model: model,
            startWithin: startWithin,
            providerKey: Self.testKey(api.provider),
            body: body
        )
        return PlannedCall(index: index, request: request, stream: stream)
    }

    /// The native body of each API, with the prompt and an output bound.
    static func body(_ api: Api, model: String, prompt: String, maxTokens: Int) -> String {
        switch api {
        case .chatCompletions:
            #"{"model":"\#(model)","messages":[{"role":"user","content":"\#(prompt)"}],"max_completion_tokens":\#(maxTokens)}"#
        case .responses:
            #"{"model":"\#(model)","input":"\#(prompt)","max_output_tokens":\#(maxTokens)}"#
        case .messages:
            #"{"model":"\#(model)","max_tokens":\#(maxTokens),"messages":[{"role":"user","content":"\#(prompt)"}]}"#
        case .generateContent:
            #"{"contents":[{"role":"user","parts":[{"text":"\#(prompt)"}]}],"generationConfig":{"maxOutputTokens":\#(maxTokens)}}"#
        case .interactions:
            #"{"model":"\#(model)","input":"\#(prompt)","generation_config":{"max_output_tokens":\#(maxTokens)}}"#
        }
    }

    static let vocabulary = [
        "summarise", "the", "refund", "policy", "for", "orders", "shipped", "late", "and", "explain",
        "which", "customers", "qualify", "in", "one", "short", "paragraph", "with", "examples", "please",
    ]

    static func prompt(words: Int, random: inout SplitMix) -> String {
        (0..<words).map { _ in Self.vocabulary[Int(random.next() % UInt64(Self.vocabulary.count))] }.joined(
            separator: " "
        )
    }
}

/// SplitMix64: small, fast, and the same sequence for the same seed everywhere.
public struct SplitMix: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { self.state = seed }

    public mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform double in [0, 1).
    public mutating func unit() -> Double { Double(self.next() >> 11) / Double(1 << 53) }
}
