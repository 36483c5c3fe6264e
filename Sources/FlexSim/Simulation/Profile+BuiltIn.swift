internal import FlexCatalog
internal import FlexCore

extension Profile {
    /// No delays, no refusals, no faults: for measuring overhead.
    public static let instant = Profile(
        name: "instant",
        description: "no delays, no refusals: for overhead benchmarks",
        tiers: [
            .flex: .init(ttftSeconds: .zero, tokensPerSecond: 0),
            .standard: .init(ttftSeconds: .zero, tokensPerSecond: 0),
            .priority: .init(ttftSeconds: .zero, tokensPerSecond: 0),
        ],
        flex: .init(
            refusalProbability: 0,
            scarce: .none,
            queueWaitSeconds: .zero,
            concurrency: 0,
            maxQueueWaitSeconds: 0,
            preambleWhileQueued: true
        )
    )

    /// Plenty of flex capacity: rare refusals, sub-second queue waits.
    public static let calm = Profile(
        name: "calm",
        description: "rare refusals, short flex queue waits",
        tiers: [
            .flex: .init(ttftSeconds: .lognormal(median: 0.6, sigma: 0.4, cap: 5), tokensPerSecond: 70),
            .standard: .init(ttftSeconds: .lognormal(median: 0.4, sigma: 0.3, cap: 3), tokensPerSecond: 90),
            .priority: .init(ttftSeconds: .lognormal(median: 0.3, sigma: 0.2, cap: 2), tokensPerSecond: 150),
        ],
        flex: .init(
            refusalProbability: 0.01,
            scarce: .none,
            queueWaitSeconds: .lognormal(median: 0.3, sigma: 0.8, cap: 30),
            concurrency: 1024,
            maxQueueWaitSeconds: 900,
            preambleWhileQueued: true
        )
    )

    /// Flex under pressure: frequent refusals, long and bursty queue waits, a small concurrency
    /// limit, and some priority requests downgraded to standard.
    public static let busy = Profile(
        name: "busy",
        description: "frequent, bursty flex refusals and long queue waits; priority sometimes downgraded",
        tiers: [
            .flex: .init(ttftSeconds: .lognormal(median: 1.2, sigma: 0.5, cap: 10), tokensPerSecond: 40),
            .standard: .init(ttftSeconds: .lognormal(median: 0.8, sigma: 0.4, cap: 6), tokensPerSecond: 60),
            .priority: .init(ttftSeconds: .lognormal(median: 0.4, sigma: 0.3, cap: 3), tokensPerSecond: 120),
        ],
        flex: .init(
            refusalProbability: 0.15,
            scarce: .init(fraction: 0.3, windowSeconds: 60, refusalProbability: 0.6, waitMultiplier: 3),
            queueWaitSeconds: .lognormal(median: 8, sigma: 1.0, cap: 900),
            concurrency: 64,
            maxQueueWaitSeconds: 900,
            preambleWhileQueued: true
        ),
        priorityDowngradeProbability: 0.2
    )

    /// Tuned so a flex-first router with a 30 s budget is served by flex for roughly 90-95% of
    /// tokens with a small median wait: about 3% refusals in normal windows, 10% of one-minute
    /// windows scarce (40% refusals, waits x4), log-normal queue wait with a 1.5 s median.
    /// Expected flex share at 30 s: 1 - (0.9 x 0.03 + 0.1 x 0.4) - P(wait > 30 s) ~ 0.92.
    public static let realistic = Profile(
        name: "realistic",
        description: "a flex-first router with a 30 s budget gets ~90-95% of tokens on flex",
        tiers: [
            .flex: .init(ttftSeconds: .lognormal(median: 0.7, sigma: 0.4, cap: 8), tokensPerSecond: 60),
            .standard: .init(ttftSeconds: .lognormal(median: 0.5, sigma: 0.35, cap: 5), tokensPerSecond: 75),
            .priority: .init(ttftSeconds: .lognormal(median: 0.35, sigma: 0.25, cap: 3), tokensPerSecond: 130),
        ],
        flex: .init(
            refusalProbability: 0.03,
            scarce: .init(fraction: 0.1, windowSeconds: 60, refusalProbability: 0.4, waitMultiplier: 4),
            queueWaitSeconds: .lognormal(median: 1.5, sigma: 1.2, cap: 900),
            concurrency: 2048,
            maxQueueWaitSeconds: 900,
            preambleWhileQueued: true
        )
    )

    /// Flex always refused for capacity; standard and priority work as in `calm`.
    public static let outage = Profile(
        name: "outage",
        description: "flex always refused",
        tiers: [
            .flex: .init(ttftSeconds: .lognormal(median: 0.6, sigma: 0.4, cap: 5), tokensPerSecond: 70),
            .standard: .init(ttftSeconds: .lognormal(median: 0.4, sigma: 0.3, cap: 3), tokensPerSecond: 90),
            .priority: .init(ttftSeconds: .lognormal(median: 0.3, sigma: 0.2, cap: 2), tokensPerSecond: 150),
        ],
        flex: .init(
            refusalProbability: 1,
            scarce: .none,
            queueWaitSeconds: .zero,
            concurrency: 0,
            maxQueueWaitSeconds: 0,
            preambleWhileQueued: true
        )
    )
}
