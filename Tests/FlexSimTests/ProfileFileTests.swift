import FlexCatalog
import FlexCore
import FlexJSON
import FlexSim
import Foundation
import NIOCore
import Testing

/// Profile files: only `name` and `tiers` are required, everything else takes its documented
/// default, and a bad value is refused with an error that names the field.
@Suite struct ProfileFileTests {
    @Test func aMinimalFileTakesTheDefaults() throws {
        let profile = try Profile.decode(json: #"{"name": "tiny", "tiers": {"standard": {}}}"#)
        #expect(profile.name == "tiny" && profile.description == nil)
        #expect(profile.tiers == ["standard": .init(ttftSeconds: .zero, tokensPerSecond: 0)])
        #expect(profile.flex == .unlimited)
        #expect(profile.flex.scarce == .none && profile.flex.preambleWhileQueued && profile.flex.concurrency == 0)
        #expect(profile.priorityDowngradeProbability == 0 && profile.faults.isEmpty)
    }

    @Test func aPartialSectionKeepsTheDefaultsOfWhatItLeavesOut() throws {
        let profile = try Profile.decode(
            json: #"""
                {"name": "half", "tiers": {"flex": {"tokens_per_s": 50}, "standard": {"ttft_s": {"kind": "constant", "value": 0.5}}},
                 "flex": {"refusal_probability": 0.25, "scarce": {"fraction": 0.5}}}
                """#
        )
        #expect(profile.tiers["flex"] == .init(ttftSeconds: .zero, tokensPerSecond: 50))
        #expect(profile.tiers["standard"] == .init(ttftSeconds: .constant(0.5), tokensPerSecond: 0))
        var flex = Profile.FlexCapacity.unlimited
        flex.refusalProbability = 0.25
        flex.scarce.fraction = 0.5
        #expect(profile.flex == flex)
        #expect(profile.flex.scarce.windowSeconds == 60 && profile.flex.scarce.waitMultiplier == 1)
    }

    /// A scarcity schedule replaces the random windows: scarce exactly in its spans.
    @Test func aScarcityScheduleIsFollowedExactly() throws {
        let profile = try Profile.decode(
            json: #"""
                {"name": "script", "tiers": {"standard": {}},
                 "flex": {"scarce": {"fraction": 0, "refusal_probability": 1, "schedule": [{"from_s": 10, "to_s": 20}]}}}
                """#
        )
        #expect(profile.flex.scarce.schedule == [.init(fromSeconds: 10, toSeconds: 20)])
        let model = CapacityModel(profile: profile, seed: 1, timeScale: 1)
        #expect(
            !model.isScarce(at: 9.99) && model.isScarce(at: 10) && model.isScarce(at: 19.99) && !model.isScarce(at: 20)
        )
        if case .admitted = model.admit(provider: .openAI, requestHash: 1, serviceSeconds: 0, at: 15) {
            Issue.record("refusal_probability 1 in a scheduled span must refuse")
        }
        guard case .admitted = model.admit(provider: .openAI, requestHash: 1, serviceSeconds: 0, at: 25) else {
            Issue.record("outside the spans flex is not scarce")
            return
        }
        #expect(throws: ProfileError.self) {
            try Profile.decode(
                json:
                    #"{"name": "bad", "tiers": {"standard": {}}, "flex": {"scarce": {"schedule": [{"from_s": 5, "to_s": 5}]}}}"#
            )
        }
        #expect(throws: ProfileError.self) {
            try Profile.decode(
                json:
                    #"{"name": "bad", "tiers": {"standard": {}}, "flex": {"scarce": {"schedule": [{"from_s": 5, "until": 9}]}}}"#
            )
        }
    }

    /// The minimal profile serves: flex (not listed) behaves as standard, is never refused and
    /// never waits; the answer is billed at flex.
    @Test func aMinimalProfileServesWithTheDefaults() async throws {
        let profile = try Profile.decode(json: #"{"name": "tiny", "tiers": {"standard": {}}}"#)
        try await withSim(profile) { server, port in
            for _ in 0..<20 {
                let client = try TestHTTPClient(port: port)
                client.send(
                    "/openai/v1/chat/completions",
                    headers: openAIKey,
                    body: #"{"model":"gpt-5-mini","messages":[{"role":"user","content":"hi"}],"service_tier":"flex"}"#
                )
                let response = client.response()
                #expect(response.status == 200)
                #expect(response.json?["service_tier"] == "flex")
            }
            let rows = try ledgerRows(server)
            #expect(rows.count == 20)
            #expect(rows.allSatisfy { $0["tier_served"] == "flex" && $0["queue_wait_ms"]?.int == 0 })
        }
    }

    @Test(arguments: [
        (#"{"tiers": {"standard": {}}}"#, "name: required field is missing"),
        (#"{"name": "x"}"#, "tiers: required field is missing"),
        (#"{"name": "x", "tiers": {}}"#, "tiers must list at least one tier"),
        (#"{"name": "", "tiers": {"standard": {}}}"#, "name must not be empty"),
        (#"{"name": "x", "tiers": {"turbo": {}}}"#, "tiers.turbo: unknown tier"),
        (
            #"{"name": "x", "tiers": {"standard": {"tokens_per_s": "fast"}}}"#,
            "tiers.standard.tokens_per_s: expected a number"
        ),
        (#"{"name": "x", "tiers": {"standard": {"tokens_per_s": -1}}}"#, "tiers.standard.tokens_per_s must be >= 0"),
        (#"{"name": "x", "tiers": {"standard": {"ttft_s": 1}}}"#, "tiers.standard.ttft_s: expected an object"),
        (
            #"{"name": "x", "tiers": {"standard": {"ttft_s": {"kind": "gamma"}}}}"#,
            #"tiers.standard.ttft_s.kind: unknown distribution kind "gamma""#
        ),
        (
            #"{"name": "x", "tiers": {"standard": {"ttft_s": {"kind": "constant"}}}}"#,
            "tiers.standard.ttft_s.value: required field is missing"
        ),
        (
            #"{"name": "x", "tiers": {"standard": {}}, "flex": {"refusal_probability": "high"}}"#,
            "flex.refusal_probability: expected a number"
        ),
        (
            #"{"name": "x", "tiers": {"standard": {}}, "flex": {"refusal_probability": 2}}"#,
            "flex.refusal_probability must be between 0 and 1"
        ),
        (
            #"{"name": "x", "tiers": {"standard": {}}, "flex": {"refusal_probabilty": 0.1}}"#,
            "flex.refusal_probabilty: unknown field"
        ),
        (
            #"{"name": "x", "tiers": {"standard": {}}, "flex": {"concurrency": 1.5}}"#,
            "flex.concurrency: expected an integer"
        ),
        (#"{"name": "x", "tiers": {"standard": {}}, "flex": {"concurrency": -1}}"#, "flex.concurrency must be >= 0"),
        (#"{"name": null, "tiers": {"standard": {}}}"#, "name: expected a string, found null"),
        (
            #"{"name": "x", "tiers": {"standard": {}}, "flex": {"preamble_while_queued": 1}}"#,
            "flex.preamble_while_queued: expected true or false"
        ),
        (
            #"{"name": "x", "tiers": {"standard": {}}, "flex": {"scarce": {"window_s": 0}}}"#,
            "flex.scarce.window_s must be positive"
        ),
        (#"{"name": "x", "tiers": {"standard": {}}, "flex": 3}"#, "flex: expected an object"),
        (
            #"{"name": "x", "tiers": {"standard": {}}, "faults": [{"probability": 0.5}]}"#,
            "faults[0].fault: required field is missing"
        ),
        (
            #"{"name": "x", "tiers": {"standard": {}}, "faults": [{"probability": 0.5, "fault": "explode"}]}"#,
            #"faults[0].fault: cannot read "explode""#
        ),
        (#"{"name": "x", "tiers": {"standard": {}}, "faults": {}}"#, "faults: expected an array"),
        (#"{"name": "x", "tiers": {"standard": {}}, "fault": []}"#, "fault: unknown field"),
        ("not json", "not a valid JSON document"),
    ])
    func aBadValueNamesTheField(_ json: String, _ expected: String) {
        let error = #expect(throws: ProfileError.self) { try Profile.decode(json: json) }
        #expect(error?.description.hasPrefix(expected) == true, "\(error?.description ?? "no error")")
    }

    @Test func theBuiltInProfilesRoundTripThroughTheFileFormat() throws {
        for name in Profile.builtInNames {
            let builtIn = try #require(Profile.builtIn(named: name))
            let text = String(decoding: try JSONEncoder().encode(builtIn), as: UTF8.self)
            #expect(try Profile.decode(json: text) == builtIn, "\(name)")
        }
    }
}
