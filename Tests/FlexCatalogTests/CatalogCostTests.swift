import FlexCatalog
import FlexCore
import Foundation
import Testing

@Suite struct CatalogCostTests {
    let catalog: Catalog
    let today = CalendarDate("2026-11-26")!

    init() throws { self.catalog = try Catalog.builtIn() }

    @Test func flexIsHalfOfStandardForGPT5ToThePicoDollar() throws {
        let tokens = TokenUsage(inputTokens: 1000, cachedInputTokens: 3000, outputTokens: 256, reasoningTokens: 56)
        let standard = try catalog.cost(provider: .openAI, model: "gpt-5", tier: .standard, tokens: tokens, on: today)
        let flex = try catalog.cost(provider: .openAI, model: "gpt-5", tier: .flex, tokens: tokens, on: today)
        // 1000 x 1.25 $/M + 3000 x 0.125 $/M + 256 x 10 $/M
        #expect(standard.input == PicoUSD(1000 * 1_250_000))
        #expect(standard.cachedInput == PicoUSD(3000 * 125_000))
        #expect(standard.output == PicoUSD(256 * 10_000_000))
        #expect(standard.total == PicoUSD(1_250_000_000 + 375_000_000 + 2_560_000_000))
        #expect(flex.total.rawValue * 2 == standard.total.rawValue)
        #expect(!standard.longContext)
    }

    @Test func fractionalMicroPricesAreExact() throws {
        // gpt-5.4-mini flex cached input is $0.0375/M = 37500 micro-USD per 1M.
        let model = try catalog.requireModel(.openAI, "gpt-5.4-mini")
        let (prices, _) = try model.prices(tier: .flex, on: today, totalInputTokens: 10)
        #expect(prices.cachedInput == 37_500)
        let cost = try model.cost(tier: .flex, tokens: TokenUsage(cachedInputTokens: 1), on: today)
        #expect(cost.total == PicoUSD(37_500))  // 1 token = $0.0000000375 exactly
        #expect(cost.total.description == "$0.000000037500")
    }

    @Test func openAILongContextDoublesInputAndMultipliesOutputByOneAndAHalf() throws {
        let model = try catalog.requireModel(.openAI, "gpt-5.4")
        let at = try model.cost(
            tier: .standard,
            tokens: TokenUsage(inputTokens: 272_000, outputTokens: 1000),
            on: today
        )
        let above = try model.cost(
            tier: .standard,
            tokens: TokenUsage(inputTokens: 272_001, outputTokens: 1000),
            on: today
        )
        #expect(!at.longContext)
        #expect(above.longContext)
        #expect(above.prices.input == 5_000_000)
        #expect(above.prices.output == 22_500_000)
        #expect(above.total == PicoUSD(272_001 * 5_000_000 + 1000 * 22_500_000))
    }

    @Test func longContextThresholdCountsCachedAndWrittenInput() throws {
        let model = try catalog.requireModel(.gemini, "gemini-2.5-pro")
        let cost = try model.cost(
            tier: .flex,
            tokens: TokenUsage(inputTokens: 100_000, cachedInputTokens: 100_001, outputTokens: 10),
            on: today
        )
        #expect(cost.longContext)
        #expect(cost.prices.input == 1_250_000)  // 0.625 x 2
        #expect(cost.prices.output == 7_500_000)  // 5 x 1.5
    }

    @Test func datedPriceChangesApplyFromTheirFirstDay() throws {
        let tokens = TokenUsage(inputTokens: 1_000_000, outputTokens: 1_000_000)
        let before = try catalog.cost(
            provider: .gemini,
            model: "gemini-4-argon",
            tier: .standard,
            tokens: tokens,
            on: CalendarDate("2026-11-30")!
        )
        let after = try catalog.cost(
            provider: .gemini,
            model: "gemini-4-argon",
            tier: .standard,
            tokens: tokens,
            on: CalendarDate("2026-12-01")!
        )
        #expect(before.total == PicoUSD(12 * PicoUSD.perUSD))
        #expect(after.total == PicoUSD(24 * PicoUSD.perUSD))
        let sol = try catalog.requireModel(.openAI, "gpt-5.6-sol")
        #expect(
            try sol.prices(tier: .standard, on: CalendarDate("2026-08-20")!, totalInputTokens: 0).0.output == 30_000_000
        )
        #expect(
            try sol.prices(tier: .standard, on: CalendarDate("2026-08-21")!, totalInputTokens: 0).0.output == 20_000_000
        )
    }

    @Test func anthropicHasNoFlexAndPricesOneHourWritesApart() throws {
        let opus = try catalog.requireModel(.anthropic, "claude-opus-4-5")
        #expect(!opus.flexCapable)
        #expect(throws: CatalogError.tierNotOffered(provider: .anthropic, model: "claude-opus-4-5", tier: .flex)) {
            try opus.cost(tier: .flex, tokens: TokenUsage(inputTokens: 1), on: today)
        }
        let cost = try opus.cost(
            tier: .standard,
            tokens: TokenUsage(
                inputTokens: 10,
                cachedInputTokens: 100,
                cacheWriteTokens: 1000,
                outputTokens: 5,
                cacheWrite1hTokens: 1000
            ),
            on: today
        )
        #expect(cost.input == PicoUSD(10 * 5_000_000))
        #expect(cost.cachedInput == PicoUSD(100 * 500_000))
        #expect(cost.cacheWrite == PicoUSD(1000 * 6_250_000))
        #expect(cost.cacheWrite1h == PicoUSD(1000 * 10_000_000))
        #expect(cost.output == PicoUSD(5 * 25_000_000))
    }

    @Test func flexCapabilityFollowsTheReference() throws {
        let flexCapable: [(Provider, String)] = [
            (.openAI, "gpt-5"), (.openAI, "o3"), (.openAI, "gpt-6-sol"), (.gemini, "gemini-2.5-flash"),
            (.gemini, "gemini-3.8-flash"),
        ]
        let notFlex: [(Provider, String)] = [
            (.openAI, "gpt-6.2-sol"), (.openAI, "gpt-6.2-astra"), (.openAI, "gpt-4.1"), (.gemini, "gemini-4-argon"),
            (.gemini, "gemini-4-neon"), (.anthropic, "claude-sonnet-4-5"),
        ]
        for (provider, id) in flexCapable { #expect(try catalog.requireModel(provider, id).flexCapable, "\(id)") }
        for (provider, id) in notFlex { #expect(try !catalog.requireModel(provider, id).flexCapable, "\(id)") }
    }

    @Test func errorsAreSpecific() throws {
        #expect(throws: CatalogError.unknownModel(provider: .openAI, model: "gpt-9")) {
            try catalog.cost(provider: .openAI, model: "gpt-9", tier: .standard, tokens: TokenUsage(), on: today)
        }
        #expect(throws: CatalogError.reasoningExceedsOutput) {
            try catalog.cost(
                provider: .openAI,
                model: "gpt-5",
                tier: .standard,
                tokens: TokenUsage(outputTokens: 1, reasoningTokens: 2),
                on: today
            )
        }
        #expect(throws: CatalogError.overflow) {
            try catalog.cost(
                provider: .openAI,
                model: "gpt-6-astra",
                tier: .priority,
                tokens: TokenUsage(outputTokens: UInt64(Int64.max / 2)),
                on: today
            )
        }
    }

    @Test func aliasesAndRetirement() throws {
        #expect(catalog.model(.openAI, "gpt-5-2025-08-07")?.id == "gpt-5")
        #expect(catalog.model(.anthropic, "claude-sonnet-4-5-20250929")?.id == "claude-sonnet-4-5")
        let sonnet = try catalog.requireModel(.anthropic, "claude-sonnet-4-5")
        #expect(sonnet.isServed(on: CalendarDate("2026-11-29")!))
        #expect(!sonnet.isServed(on: CalendarDate("2026-11-30")!))
        #expect(throws: CatalogError.self) {
            try Catalog(
                jsonData: Data(
                    #"{"format": 1, "providers": {"openai": {"models": {"a": {"aliases": ["b"], "flex_capable": false, "prices": [{"tiers": {"standard": {"input": 1, "cached_input": 1, "cache_write": 1, "output": 1}}}]}, "b": {"flex_capable": false, "prices": [{"tiers": {"standard": {"input": 1, "cached_input": 1, "cache_write": 1, "output": 1}}}]}}}}}"#
                        .utf8
                )
            )
        }
    }

    @Test func tierWireNames() throws {
        #expect(catalog.providers[.openAI]?.wireName(of: .standard) == "default")
        #expect(catalog.providers[.openAI]?.tier(wireName: "flex") == .flex)
        #expect(catalog.providers[.gemini]?.wireName(of: .standard) == "standard")
    }
}
