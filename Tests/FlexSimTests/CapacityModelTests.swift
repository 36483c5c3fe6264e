import FlexCatalog
import FlexCore
import FlexSim
import Foundation
import NIOCore
import Testing

/// Statistical checks of the capacity model with fixed seeds and explicit simulated times: fully
/// deterministic, no wall-clock timing.
@Suite struct CapacityModelTests {
    @Test func realisticServesAboutNinetyPercentWithinThirtySeconds() {
        let model = CapacityModel(profile: .realistic, seed: 42, timeScale: 1)
        var refused = 0
        var within30 = 0
        var waits: [Double] = []
        let total = 20_000
        for index in 0..<total {
            // One request every 0.5 simulated seconds: about 2.8 hours, ~166 one-minute windows.
            switch model.admit(
                provider: .openAI,
                requestHash: UInt64(index),
                serviceSeconds: 5,
                at: Double(index) * 0.5
            ) {
            case .refused: refused += 1
            case .admitted(let wait, _):
                waits.append(wait)
                if wait <= 30 { within30 += 1 }
            }
        }
        let flexShare = Double(within30) / Double(total)
        #expect(flexShare > 0.88 && flexShare < 0.96, "flex within 30 s: \(flexShare)")
        let refusalRate = Double(refused) / Double(total)
        #expect(refusalRate > 0.03 && refusalRate < 0.10, "refusals: \(refusalRate)")
        let median = waits.sorted()[waits.count / 2]
        #expect(median > 0.5 && median < 4, "median wait \(median)")
    }

    @Test func refusalsAreTimeCorrelated() {
        // Scarce windows must hold a far higher refusal rate than normal ones.
        let model = CapacityModel(profile: .busy, seed: 7, timeScale: 1)
        var scarce = (refused: 0, total: 0)
        var normal = (refused: 0, total: 0)
        for index in 0..<20_000 {
            let time = Double(index) * 0.6
            let refusedNow: Bool
            if case .refused = model.admit(provider: .gemini, requestHash: UInt64(index), serviceSeconds: 0, at: time) {
                refusedNow = true
            } else {
                refusedNow = false
            }
            if model.isScarce(at: time) {
                scarce.total += 1
                scarce.refused += refusedNow ? 1 : 0
            } else {
                normal.total += 1
                normal.refused += refusedNow ? 1 : 0
            }
        }
        #expect(scarce.total > 1000 && normal.total > 1000)
        #expect(Double(scarce.refused) / Double(scarce.total) > 2 * Double(normal.refused) / Double(normal.total))
    }

    @Test func outageRefusesEverything() {
        let model = CapacityModel(profile: .outage, seed: 1, timeScale: 1)
        for index in 0..<1000 {
            #expect(
                model.admit(provider: .openAI, requestHash: UInt64(index), serviceSeconds: 1, at: 0)
                    == .refused(reason: "refused_capacity")
            )
        }
    }

    @Test func concurrencyLimitQueuesBehindBusySlotsAndReleaseFreesThem() {
        var profile = Profile.instant
        profile.flex.concurrency = 2
        let model = CapacityModel(profile: profile, seed: 1, timeScale: 1)
        guard case .admitted(let w1, _) = model.admit(provider: .openAI, requestHash: 1, serviceSeconds: 10, at: 0),
            case .admitted(let w2, _) = model.admit(provider: .openAI, requestHash: 2, serviceSeconds: 10, at: 0),
            case .admitted(let w3, let ticket3) = model.admit(
                provider: .openAI,
                requestHash: 3,
                serviceSeconds: 10,
                at: 0
            )
        else {
            Issue.record("refused")
            return
        }
        #expect(w1 == 0 && w2 == 0)
        #expect(w3 == 10)  // load lengthens the wait
        #expect(model.busySlots(provider: .openAI, at: 1) == 2)
        model.release(ticket3, at: 1)  // cancelled while queued: reservation returned
        guard case .admitted(let w4, _) = model.admit(provider: .openAI, requestHash: 4, serviceSeconds: 10, at: 1)
        else {
            Issue.record("refused")
            return
        }
        #expect(w4 == 9)
        #expect(model.busySlots(provider: .anthropic, at: 1) == 0)
    }

    @Test func sameSeedSameDecisions() {
        let a = CapacityModel(profile: .busy, seed: 99, timeScale: 1)
        let b = CapacityModel(profile: .busy, seed: 99, timeScale: 1)
        for index in 0..<500 {
            #expect(
                a.admit(provider: .openAI, requestHash: UInt64(index), serviceSeconds: 1, at: Double(index))
                    == b.admit(provider: .openAI, requestHash: UInt64(index), serviceSeconds: 1, at: Double(index))
            )
        }
    }

    @Test func faultsParse() throws {
        #expect(
            try Fault.parseList("stall_before_headers=2s, cut_mid_stream,status=529,stall_mid_stream=250ms") == [
                .stallBeforeHeaders(seconds: 2), .cutMidStream, .status(529), .stallMidStream(seconds: 0.25),
            ]
        )
        #expect(throws: FaultParseError(item: "explode")) { try Fault.parseList("explode") }
        #expect(throws: FaultParseError(item: "status=200")) { try Fault.parseList("status=200") }
    }

    @Test func builtInProfilesValidate() throws {
        for name in Profile.builtInNames { try Profile.builtIn(named: name)!.validate() }
        var bad = Profile.calm
        bad.flex.refusalProbability = 2
        #expect(throws: ProfileError.self) { try bad.validate() }
    }
}
