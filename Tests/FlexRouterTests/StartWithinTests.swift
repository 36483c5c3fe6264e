import FlexCore
import Testing

@testable import FlexRouter

@Suite("start_within and the tier plan")
struct StartWithinTests {
    @Test(arguments: [
        ("priority", StartWithin.priority),
        ("default", .default),
        ("auto", .auto),
        ("00h-00m-30s", .flex(budget: .seconds(30))),
        ("00h-00m-00s", .flex(budget: .zero)),
        ("01h-02m-03s", .flex(budget: .seconds(3723))),
        ("23h-59m-59s", .flex(budget: StartWithin.maximumBudget)),
    ])
    func parsesEveryForm(_ text: String, _ expected: StartWithin) throws {
        let parsed = try StartWithin(parsing: text)
        #expect(parsed == expected)
        #expect(parsed.description == text)
    }

    @Test func missingIsItsOwnError() throws {
        let error = try #require(throws: RouterError.self) { try StartWithin(parsing: "") }
        #expect(error.errorCode == "missing_start_within")
        #expect(error.status.code == .invalidArgument)
        #expect(error.status.message.contains("00h-00m-30s"))
    }

    @Test(arguments: [
        "Priority", "DEFAULT", "flex", "30s", "00h-00m-30", "0h-00m-30s", "00h-00m-60s", "00h-60m-00s",
        "24h-00m-00s", "00h:00m:30s", "00h-00m-3as", " 00h-00m-30s", "00h-00m-30s ", "-1h-00m-30s", "００h-00m-30s",
    ])
    func malformedValuesSayHowToFixThem(_ text: String) throws {
        let error = try #require(throws: RouterError.self) { try StartWithin(parsing: text) }
        #expect(error.errorCode == "invalid_start_within")
        #expect(error.status.code == .invalidArgument)
        #expect(error.status.message.contains("HHh-MMm-SSs"))
        #expect(error.status.details["field"] == "start_within")
    }

    @Test func theBriefsTable() throws {
        let thirty = StartWithin.flex(budget: .seconds(30))
        #expect(try TierPlan.decide(.priority, provider: .openAI, model: "m", flexCapable: true) == .single(.priority))
        #expect(try TierPlan.decide(.priority, provider: .gemini, model: "m", flexCapable: true) == .single(.priority))
        #expect(
            try TierPlan.decide(.priority, provider: .anthropic, model: "m", flexCapable: false) == .single(.priority)
        )
        #expect(try TierPlan.decide(.default, provider: .openAI, model: "m", flexCapable: true) == .single(.standard))
        #expect(try TierPlan.decide(.default, provider: .gemini, model: "m", flexCapable: true) == .single(.standard))
        #expect(
            try TierPlan.decide(.default, provider: .anthropic, model: "m", flexCapable: false) == .single(.standard)
        )
        #expect(try TierPlan.decide(.auto, provider: .openAI, model: "m", flexCapable: true) == .single(.auto))
        #expect(try TierPlan.decide(.auto, provider: .anthropic, model: "m", flexCapable: false) == .single(.auto))
        #expect(
            try TierPlan.decide(thirty, provider: .openAI, model: "m", flexCapable: true)
                == .flexRace(budget: .seconds(30))
        )
        #expect(
            try TierPlan.decide(thirty, provider: .gemini, model: "m", flexCapable: true)
                == .flexRace(budget: .seconds(30))
        )

        let auto = try #require(throws: RouterError.self) {
            try TierPlan.decide(.auto, provider: .gemini, model: "gemini-2.5-flash", flexCapable: true)
        }
        #expect(auto.errorCode == "auto_unsupported_for_gemini")
        let anthropic = try #require(throws: RouterError.self) {
            try TierPlan.decide(thirty, provider: .anthropic, model: "claude-x", flexCapable: false)
        }
        #expect(anthropic.errorCode == "flex_unsupported_for_anthropic")
        let notFlex = try #require(throws: RouterError.self) {
            try TierPlan.decide(thirty, provider: .openAI, model: "gpt-4.1", flexCapable: false)
        }
        #expect(notFlex.errorCode == "model_not_flex_capable")
        #expect(notFlex.status.message.contains("gpt-4.1"))
    }
}
