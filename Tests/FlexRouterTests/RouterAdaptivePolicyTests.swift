import FlexCore
import FlexJSON
import FlexSim
import FlexTestSupport
import Synchronization
import Testing

@testable import FlexRouter

/// The adaptive flex policy end to end: a router with it, over real HTTP to flexsim, learning from
/// what flex does (or primed with what it would have learned), and the savings record saying why a
/// call did not wait for flex.
@Suite("Router: the adaptive flex policy against flexsim", .serialized)
struct RouterAdaptivePolicyTests {
    typealias Race = RouterRaceTests

    /// A policy that decides from 4 attempts' weight on (observations fade, so 5 recent ones are
    /// enough and 4 are not), with no probes unless told.
    static func policy(
        exploration: Double = 0,
        halfLife: Duration = .seconds(60),
        random: @escaping @Sendable () -> Double = { 0.5 }
    ) -> AdaptiveFlexPolicy {
        AdaptiveFlexPolicy(
            configuration: .init(exploration: exploration, halfLife: halfLife, minimumEvidence: 4),
            random: random
        )
    }

    /// flexsim with instant tiers and flex that starts after `flexWait` seconds.
    static func profile(flexWait: Double, scarce: String = "") throws -> Profile {
        try Profile.decode(
            json: #"""
                {"name": "adaptive-test", "tiers": {"standard": {}},
                 "flex": {"queue_wait_s": {"kind": "constant", "value": \#(flexWait)}\#(scarce)}}
                """#
        )
    }

    /// Refused flex attempts teach the policy that flex is scarce: the next call goes to standard
    /// without a flex attempt (flexsim sees none).
    @Test func learnedScarcitySkipsFlex() async throws {
        let policy = Self.policy()
        try await Race.withRouter(profile: .outage, flexPolicy: .adaptive(policy)) { router, sim in
            for index in 0..<5 {
                let outcome = try await Race.call(
                    router,
                    Race.request(.chatCompletions, startWithin: "00h-00m-30s", id: "scarce-learn-\(index)"),
                    stream: false
                )
                #expect(outcome.record.fallbackReason == .flexCapacity, "call \(index) tries flex while learning")
            }
            let id = "scarce-skip"
            let outcome = try await Race.call(
                router,
                Race.request(.chatCompletions, startWithin: "00h-00m-30s", id: id),
                stream: true
            )
            #expect(outcome.record.tierServed == .standard)
            #expect(outcome.record.fellBack && outcome.record.fallbackReason == .flexScarce)
            #expect(outcome.record.flexAttempts == 0 && outcome.record.flexWaitMicroseconds == 0)
            #expect(outcome.record.actualCostPicoUSD == outcome.record.standardCostPicoUSD)
            #expect(
                outcome.events.first
                    == .route(RouteDecision(tier: .standard, fellBack: true, fallbackReason: .flexScarce))
            )
            let rows = try await Race.ledger(sim, id, count: 1)
            #expect(rows.count == 1, "no flex attempt reached flexsim")
            Race.expectMatchesLedger(outcome.record, rows)
        }
    }

    /// Waits that ran out teach the policy that flex starts later than such budgets: the next call
    /// with that budget goes to standard at once (flex_predicted_late), and a longer budget still
    /// tries flex.
    @Test func timedOutWaitsPredictLateStarts() async throws {
        let policy = Self.policy()
        try await Race.withRouter(profile: try Self.profile(flexWait: 3), flexPolicy: .adaptive(policy)) {
            router,
            sim in
            try await withThrowingTaskGroup(of: SavingsRecord.self) { group in
                for index in 0..<5 {
                    group.addTask {
                        try await Race.call(
                            router,
                            Race.request(.responses, startWithin: "00h-00m-01s", id: "late-learn-\(index)"),
                            stream: false
                        ).record
                    }
                }
                for try await record in group {
                    #expect(record.fallbackReason == .flexStartTimeout, "the learning calls wait out their budget")
                }
            }
            let id = "late-skip"
            let outcome = try await Race.call(
                router,
                Race.request(.responses, startWithin: "00h-00m-01s", id: id),
                stream: false
            )
            #expect(outcome.record.tierServed == .standard && outcome.record.fallbackReason == .flexPredictedLate)
            #expect(outcome.record.flexAttempts == 0 && outcome.record.flexWaitMicroseconds == 0)
            #expect(try await Race.ledger(sim, id, count: 1).count == 1)
            // The policy knows nothing of waits past 1 s: a 10 s budget still waits, and flex serves.
            let longer = try await Race.call(
                router,
                Race.request(.responses, startWithin: "00h-00m-10s", id: "late-longer"),
                stream: false
            )
            #expect(longer.record.tierServed == .flex)
        }
    }

    /// A wait the policy expects to fail is stopped before its budget: here flex would start after
    /// 3 s of a 30 s budget, but the policy has seen that attempts not started within 0.1 s take
    /// minutes, so it stops the wait at its first recheck and the call goes to standard.
    @Test func aWaitThatCannotPayIsStoppedEarly() async throws {
        let policy = Self.policy()
        for _ in 0..<10 {
            policy.observe(provider: .openAI, model: "gpt-5.4-mini", .started(after: 0.08))
            policy.observe(provider: .openAI, model: "gpt-5.4-mini", .started(after: 300))
        }
        try await Race.withRouter(profile: try Self.profile(flexWait: 3), flexPolicy: .adaptive(policy)) {
            router,
            sim in
            let id = "stop-early"
            let outcome = try await Race.call(
                router,
                Race.request(.chatCompletions, startWithin: "00h-00m-30s", id: id),
                stream: true
            )
            #expect(outcome.record.tierServed == .standard)
            #expect(outcome.record.fellBack && outcome.record.fallbackReason == .flexPredictedLate)
            #expect(outcome.record.flexAttempts == 1)
            #expect(outcome.record.flexWaitMicroseconds > 0)
            let rows = try await Race.ledger(sim, id, count: 2)
            #expect(rows.filter { $0["tier_asked"]?.string == "flex" && $0["billed"]?.bool == false }.count == 1)
            Race.expectMatchesLedger(outcome.record, rows)
            // What the stopped wait taught: one more attempt still waiting at about 0.1 s.
            #expect((policy.estimate(provider: .openAI, model: "gpt-5.4-mini")?.censored.reduce(0, +) ?? 0) > 0.9)
        }
    }

    /// Flex good, then scarce (every attempt refused from 2 s to 8 s of flexsim's time), then good
    /// again: the policy sends calls to flex, then to standard without trying (probing now and
    /// then), then to flex again.
    /// In a scarce spell, a probe that flex admits (to a queue far longer than its budget) stops
    /// once flex is seen still scarce, as `flex_scarce`, instead of waiting out its budget.
    @Test func aProbeOfScarceFlexDoesNotWaitOutItsBudget() async throws {
        let policy = AdaptiveFlexPolicy(
            configuration: .init(exploration: 1, minimumEvidence: 4, admissionGrace: .milliseconds(200))
        )
        // What a spell's first refusals would have taught.
        for _ in 0..<20 { policy.observe(provider: .openAI, model: "gpt-5.4-mini", .refused) }
        let profile = try Self.profile(
            flexWait: 600,
            scarce: #", "scarce": {"refusal_probability": 0.85, "schedule": [{"from_s": 0, "to_s": 100000}]}"#
        )
        try await Race.withRouter(profile: profile, flexPolicy: .adaptive(policy)) { router, _ in
            var reasons: [FallbackReason] = []
            // Every call probes; about one in seven is admitted. Bounded: 300 calls.
            // Stops at the first reason that is neither (a probe that waited out its budget).
            for index in 0..<300
            where reasons.filter({ $0 == .flexScarce }).count < 2
                && reasons.allSatisfy({ $0 == .flexScarce || $0 == .flexCapacity })
            {
                let record = try await Race.call(
                    router,
                    Race.request(.chatCompletions, startWithin: "00h-00m-30s", id: "probe-\(index)"),
                    stream: false
                ).record
                #expect(record.tierServed == .standard)
                if let reason = record.fallbackReason { reasons.append(reason) }
            }
            #expect(reasons.filter { $0 == .flexScarce }.count == 2, "admitted probes stop as scarce: \(reasons)")
            // A probe that waited out its budget would say flex_start_timeout (after 30 s).
            #expect(reasons.allSatisfy { $0 == .flexScarce || $0 == .flexCapacity }, "\(reasons)")
        }
    }

    @Test func followsFlexThroughAScarceSpan() async throws {
        let draws = Mutex(0)
        // Every other call the policy would send to standard probes flex (exploration 0.5).
        let policy = Self.policy(exploration: 0.5, halfLife: .seconds(2)) {
            draws.withLock { count in
                count += 1
                return count % 2 == 0 ? 0.25 : 0.75
            }
        }
        let profile = try Self.profile(
            flexWait: 0,
            scarce: #", "scarce": {"refusal_probability": 1, "schedule": [{"from_s": 2, "to_s": 8}]}"#
        )
        try await Race.withRouter(profile: profile, flexPolicy: .adaptive(policy)) { router, sim in
            // Phases go by flexsim's own clock, so a slow machine moves them, not the outcome.
            let capacity = sim.server.simulator.capacity
            func waitUntil(_ seconds: Double) async throws {
                while capacity.now() < seconds { try await Task.sleep(for: .milliseconds(20)) }
            }
            var index = 0
            /// A call, and whether it ran entirely within simulated times `span`.
            func call(within span: Range<Double>) async throws -> (SavingsRecord, Bool) {
                index += 1
                let sent = capacity.now()
                let record = try await Race.call(
                    router,
                    Race.request(.chatCompletions, startWithin: "00h-00m-30s", id: "span-\(index)"),
                    stream: false
                ).record
                return (record, span.contains(sent) && span.contains(capacity.now()))
            }
            // Good: flex serves.
            var early: [Tier?] = []
            while early.count < 5, capacity.now() < 1.5 {
                let (record, inside) = try await call(within: 0..<2)
                if inside { early.append(record.tierServed) }
            }
            #expect(!early.isEmpty && early.allSatisfy { $0 == .flex }, "before the span: \(early)")
            // Scarce: once the refusals are learned, calls skip flex; probes are refused.
            try await waitUntil(2.5)
            var reasons: [FallbackReason] = []
            while reasons.filter({ $0 == .flexScarce }).count < 3, capacity.now() < 7.5 {
                let (record, inside) = try await call(within: 2..<8)
                guard inside else { continue }
                #expect(record.tierServed == .standard)
                if let reason = record.fallbackReason { reasons.append(reason) }
            }
            #expect(reasons.filter { $0 == .flexScarce }.count >= 3, "scarce span: \(reasons)")
            #expect(reasons.allSatisfy { $0 == .flexScarce || $0 == .flexCapacity })
            // Good again: flex serves again, to call after call.
            try await waitUntil(8.5)
            var servedInARow = 0
            while servedInARow < 3, capacity.now() < 40 {
                servedInARow = try await call(within: 8..<1000).0.tierServed == .flex ? servedInARow + 1 : 0
            }
            #expect(servedInARow == 3, "flex came back, the policy must follow")
        }
    }
}
