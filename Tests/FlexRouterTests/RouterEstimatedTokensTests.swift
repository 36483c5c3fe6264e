import FlexCatalog
import FlexCore
import FlexJSON
import FlexSim
import Logging
import NIOCore
import Testing

@testable import FlexRouter

/// A stream cut after the start (flexsim's `cut_mid_stream`) is billed by the provider for what it
/// produced: the record carries flexd's own count where the usage never arrived, marked
/// `tokens_estimated`, and is compared with what flexsim billed.
@Suite("Router: tokens counted when the usage never arrives", .serialized)
struct RouterEstimatedTokensTests {
    typealias R = RouterRaceTests

    @Test(arguments: R.allAPIs)
    func aCutStreamsRecordCountsWhatWasProduced(_ api: Api) async throws {
        try await R.withRouter(profile: RouterFaultTests.profile("cut_mid_stream")) { router, sim in
            let id = "estimate-\(api.name)"
            let startWithin = api.provider == .anthropic ? "default" : "00h-00m-30s"
            let failure = try await #require(throws: CallFailure.self) {
                try await R.call(router, R.request(api, startWithin: startWithin, id: id), stream: true)
            }
            #expect(failure.status.code == .dataLoss)
            let record = try #require(failure.savings)
            let row = try #require(try await R.ledger(sim, id, count: 1).first { $0["billed"]?.bool == true })
            let billedInput = row["tokens"]?["input"]?.int ?? -1
            let billedOutput = row["tokens"]?["output"]?.int ?? -1
            let billedReasoning = row["tokens"]?["reasoning"]?.int ?? 0
            #expect(record.tokensEstimated)
            #expect(record.actualCostPicoUSD > 0)
            // Input: exact where the API reports it before its end (Anthropic message_start, Gemini
            // chunks' usageMetadata); else the prompt's text, never more than flexsim counted.
            if api == .messages || api == .generateContent {
                #expect(Int64(record.tokens.inputTokens) == billedInput)
            } else {
                #expect(record.tokens.inputTokens > 0 && Int64(record.tokens.inputTokens) <= billedInput)
            }
            // Output: one token per output event, which is flexsim's (and OpenAI's) granularity; the
            // reasoning flexsim billed is never streamed, so flexd cannot count it. Gemini's chunks
            // carry several tokens each: a lower bound there.
            let visible = billedOutput - billedReasoning
            if api == .generateContent {
                #expect(record.tokens.outputTokens > 0 && Int64(record.tokens.outputTokens) <= visible)
            } else {
                #expect(Int64(record.tokens.outputTokens) == visible, "\(row)")
            }
            #expect(record.actualCostPicoUSD <= row["cost_picousd"]?.int ?? 0, "never more than the provider billed")
        }
    }
}
