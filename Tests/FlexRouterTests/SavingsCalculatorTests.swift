import FlexCatalog
import FlexCore
import Testing

@testable import FlexRouter

@Suite("SavingsCalculator")
struct SavingsCalculatorTests {
    let calculator = SavingsCalculator(catalog: try! Catalog.builtIn())
    let today = CalendarDate("2026-11-26")!
    let tokens = TokenUsage(inputTokens: 9, outputTokens: 2)

    func price(
        _ reported: Tier?,
        word: String = "",
        attempt: Tier = .flex,
        model: String = "gpt-5.4-mini",
        tokens: TokenUsage? = nil
    ) throws -> SavingsRecord {
        let entry = try calculator.model(.openAI, model)
        return try calculator.price(
            SavingsRecord(requestID: "r", provider: .openAI, model: model),
            model: entry,
            result: UpstreamResult(usage: tokens ?? self.tokens, servedTier: reported, servedTierReported: word),
            attemptTier: attempt,
            on: today
        )
    }

    @Test func flexSavesHalfAndChargesAFifthOfTheSaving() throws {
        // gpt-5.4-mini: $0.75 in / $4.50 out per million at standard, half on flex.
        let record = try price(.flex, word: "flex")
        #expect(record.standardCostPicoUSD == 9 * 750_000 + 2 * 4_500_000)
        #expect(record.actualCostPicoUSD == 7_875_000)
        #expect(record.savedPicoUSD == 7_875_000)
        #expect(record.feePicoUSD == 1_575_000)
        #expect(record.tierServed == .flex)
        #expect(record.tierServedReported == "flex")
        #expect(record.priceDate == "2026-11-26")
        #expect(record.tokens == tokens)
    }

    @Test func standardSavesNothingAndCostsNothingExtra() throws {
        let record = try price(.standard, word: "default", attempt: .standard)
        #expect(record.actualCostPicoUSD == record.standardCostPicoUSD)
        #expect(record.savedPicoUSD == 0 && record.feePicoUSD == 0)
    }

    @Test func billingFollowsTheReportedTierNotTheAskedOne() throws {
        // Asked flex, provider says it ran on standard: billed as standard, no saving, no fee.
        let downgraded = try price(.standard, word: "default", attempt: .flex)
        #expect(downgraded.savedPicoUSD == 0 && downgraded.feePicoUSD == 0)
        // Nothing reported: the attempt's tier is assumed.
        let silent = try price(nil, attempt: .flex)
        #expect(silent.tierServed == .flex && silent.savedPicoUSD > 0)
        #expect(try price(nil, attempt: .auto).tierServed == .standard)
    }

    @Test func priorityCostsMoreButNeverNegativeSavingsOrFee() throws {
        let record = try price(.priority, word: "priority", attempt: .priority)
        #expect(record.actualCostPicoUSD > record.standardCostPicoUSD)
        #expect(record.savedPicoUSD == 0 && record.feePicoUSD == 0)
    }

    @Test func feeRoundsDownToAWholePicoDollar() throws {
        // One output token on gpt-5-nano flex: standard 0.40 $/M -> 400,000; flex 200,000; saved
        // 200,000; fee 40,000 exactly. Then a count whose fifth is fractional.
        let one = try price(.flex, word: "flex", model: "gpt-5-nano", tokens: TokenUsage(outputTokens: 1))
        #expect(one.feePicoUSD == 40_000)
        let odd = try price(.flex, word: "flex", model: "gpt-5-nano", tokens: TokenUsage(cachedInputTokens: 1))
        // cached 0.005 $/M -> 5,000 picousd standard, 2,500 flex: saved 2,500, fee 500.
        #expect(odd.savedPicoUSD == 2_500 && odd.feePicoUSD == 500)
    }

    @Test func unknownModelsFailClosed() throws {
        let error = try #require(throws: RouterError.self) { try calculator.model(.openAI, "gpt-99") }
        #expect(error.errorCode == "unknown_model")
        #expect(error.status.code == .invalidArgument)
    }
}
