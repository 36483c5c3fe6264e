extension Mix {
    /// The built-in mixes, by name.
    public static let builtIn: [String: Mix] = [
        "default": .standard,
        "long": .long,
        "quickstart": .quickstart,
        "overhead": .overhead,
        "savings": .savings,
        "typed": .typed,
    ]

    /// Native JSON across the three providers and five APIs, mostly flex with a 30 s budget.
    public static let standard = Mix(
        name: "default",
        calls: [
            .init(api: "chat_completions", model: "gpt-5.4-mini", weight: 25),
            .init(api: "chat_completions", model: "gpt-5.4-nano", weight: 5),
            .init(api: "responses", model: "gpt-5.4-mini", weight: 20),
            .init(api: "messages", model: "claude-haiku-4-5", weight: 20),
            .init(api: "generate_content", model: "gemini-2.5-flash", weight: 15),
            .init(api: "interactions", model: "gemini-3.8-flash", weight: 15),
        ],
        streamShare: 0.3,
        startWithin: [
            .init(value: "00h-00m-30s", weight: 60), .init(value: "00h-05m-00s", weight: 10),
            .init(value: "default", weight: 20), .init(value: "priority", weight: 5), .init(value: "auto", weight: 5),
        ],
        promptWords: [20, 200],
        maxOutputTokens: [64, 512]
    )

    /// Long streamed answers (500 to 2,000 output tokens) over the default mix's APIs and budgets:
    /// the per-event cost of relaying a stream. flexsim answers at most 63 tokens unless told more
    /// (`x-flexsim-output-tokens`, or a profile's `large_response` fault), so the benchmarks run
    /// this mix against a profile whose answers fill `max_output_tokens`.
    public static let long = Mix(
        name: "long",
        calls: Mix.standard.calls,
        streamShare: 1,
        startWithin: Mix.standard.startWithin,
        promptWords: [50, 400],
        maxOutputTokens: [500, 2000]
    )

    /// Short calls over every API, mostly with a 30 s budget: what the quickstart sends.
    public static let quickstart = Mix(
        name: "quickstart",
        calls: Mix.standard.calls,
        streamShare: 0.25,
        startWithin: [
            .init(value: "00h-00m-30s", weight: 8), .init(value: "default", weight: 1),
            .init(value: "priority", weight: 1),
        ],
        promptWords: [10, 40],
        maxOutputTokens: [32, 128]
    )

    /// Small unstreamed Chat Completions on the standard tier: the router's own cost, nothing else.
    public static let overhead = Mix(
        name: "overhead",
        calls: [.init(api: "chat_completions", model: "gpt-5.4-mini", weight: 1)],
        streamShare: 0,
        startWithin: [.init(value: "default", weight: 1)],
        promptWords: [8, 12],
        maxOutputTokens: [16, 16]
    )

    /// The default mix sent as typed `ChatRequest`s: flexd translates each to the API's JSON.
    public static let typed = Mix(
        name: "typed",
        calls: Mix.standard.calls,
        streamShare: Mix.standard.streamShare,
        startWithin: Mix.standard.startWithin,
        promptWords: Mix.standard.promptWords,
        maxOutputTokens: Mix.standard.maxOutputTokens,
        typedShare: 1
    )

    /// The savings trace: the four APIs whose providers sell flex, budgets from 5 s to 5 min.
    public static let savings = Mix(
        name: "savings",
        calls: [
            .init(api: "chat_completions", model: "gpt-5.4-mini", weight: 30),
            .init(api: "chat_completions", model: "gpt-5.4", weight: 5),
            .init(api: "responses", model: "gpt-5.4-mini", weight: 25),
            .init(api: "generate_content", model: "gemini-2.5-flash", weight: 20),
            .init(api: "interactions", model: "gemini-3.8-flash", weight: 20),
        ],
        streamShare: 0.3,
        startWithin: [
            .init(value: "00h-00m-05s", weight: 15), .init(value: "00h-00m-30s", weight: 45),
            .init(value: "00h-01m-00s", weight: 25), .init(value: "00h-05m-00s", weight: 15),
        ],
        promptWords: [50, 400],
        maxOutputTokens: [64, 768]
    )
}
