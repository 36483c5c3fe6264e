import FlexCatalog
import FlexCodec
import FlexJSON
import FlexLoadKit
import Foundation
import NIOCore
import Testing

@Suite("Workload")
struct WorkloadTests {
    @Test func theSameSeedMakesTheSameCalls() {
        let one = Workload(mix: .standard, seed: 42, runID: "run")
        let two = Workload(mix: .standard, seed: 42, runID: "run")
        let other = Workload(mix: .standard, seed: 43, runID: "run")
        var differences = 0
        for index in 0..<300 {
            #expect(one.call(index).request == two.call(index).request)
            #expect(one.call(index).stream == two.call(index).stream)
            if one.call(index).request != other.call(index).request { differences += 1 }
        }
        #expect(differences > 250, "another seed is another trace")
        #expect(one.call(7).request.requestID == "run-7")
    }

    @Test func callsFollowTheMixShares() throws {
        let workload = Workload(mix: .standard, seed: 1, runID: "shares")
        let count = 6000
        var apis: [Api: Int] = [:]
        var streamed = 0
        for index in 0..<count {
            let call = workload.call(index)
            apis[call.request.api!, default: 0] += 1
            if call.stream { streamed += 1 }
        }
        let total = Mix.standard.calls.reduce(0) { $0 + $1.weight }
        for api in Api.allCases {
            let weight = Mix.standard.calls.filter { $0.api == api.name }.reduce(0) { $0 + $1.weight }
            let share = Double(apis[api, default: 0]) / Double(count)
            #expect(abs(share - weight / total) < 0.03, "\(api.name): \(share) against \(weight / total)")
        }
        #expect(abs(Double(streamed) / Double(count) - Mix.standard.streamShare) < 0.03)
    }

    @Test func budgetsAModelCannotTakeBecomeDefault() throws {
        let catalog = try Catalog.builtIn()
        let today = CalendarDate(unixSeconds: Int64(Date().timeIntervalSince1970))
        let workload = Workload(mix: .standard, seed: 9, runID: "budgets")
        var seen: Set<String> = []
        for index in 0..<3000 {
            let request = workload.call(index).request
            let provider = request.provider!
            let entry = try #require(catalog.model(provider, request.model))
            seen.insert(request.startWithin)
            if request.startWithin.hasSuffix("s") {
                #expect(entry.offers(.flex, on: today), "\(request.model) gets a duration only if it has flex")
            }
            if request.startWithin == "priority" { #expect(entry.offers(.priority, on: today)) }
            if request.startWithin == "auto" { #expect(provider != .gemini) }
        }
        #expect(seen.isSuperset(of: ["00h-00m-30s", "00h-05m-00s", "default", "priority", "auto"]))

        let standardOnly = Workload(mix: .standard, seed: 9, runID: "budgets", standardOnly: true)
        for index in 0..<500 {
            #expect(standardOnly.call(index).request.startWithin == "default")
            #expect(
                standardOnly.call(index).request.model == workload.call(index).request.model,
                "the same trace, only the budget differs"
            )
        }
    }

    @Test func nativeBodiesAreTheirAPIsJSONAndTypedMixesSendChatRequests() throws {
        let native = Workload(mix: .standard, seed: 5, runID: "bodies")
        for index in 0..<200 {
            let request = native.call(index).request
            guard case .nativeJSON(let bytes)? = request.body else {
                Issue.record("the default mix sends native JSON")
                return
            }
            let json = try JSONParser.parse(bytes.readableBytesView)
            #expect(json.object != nil)
            if request.api != .generateContent { #expect(json["model"]?.string == request.model) }
        }
        let typed = Workload(mix: .typed, seed: 5, runID: "typed")
        for index in 0..<100 {
            guard case .chat(let chat)? = typed.call(index).request.body else {
                Issue.record("the typed mix sends ChatRequest")
                return
            }
            #expect(chat.messages.map(\.role) == [.system, .user])
            #expect((chat.maxOutputTokens ?? 0) >= 64)
        }
    }

    @Test func aBadMixNamesItsField() throws {
        func problem(_ change: (inout Mix) -> Void) -> String {
            var mix = Mix.standard
            change(&mix)
            do {
                try mix.validate()
                return ""
            } catch {
                return error.description
            }
        }
        #expect(problem { $0.calls = [] }.contains("calls is empty"))
        #expect(problem { $0.calls[0].api = "completions" }.contains("calls[0].api \"completions\""))
        #expect(problem { $0.calls[1].weight = 0 }.contains("calls[1]"))
        #expect(problem { $0.streamShare = 1.5 }.contains("stream_share"))
        #expect(problem { $0.typedShare = -1 }.contains("typed_share"))
        #expect(problem { $0.startWithin = [] }.contains("start_within"))
        #expect(problem { $0.promptWords = [10, 5] }.contains("prompt_words"))
        #expect(problem { $0.maxOutputTokens = [0, 5] }.contains("max_output_tokens"))
        #expect(problem { _ in }.isEmpty)
    }

    @Test func mixesComeFromBuiltInNamesOrFiles() throws {
        #expect(try Mix.named("savings") == .savings)
        #expect(try Mix.named("long") == .long)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "flexload-mix-\(UInt64.random(in: 0...UInt64.max)).json"
        ).path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try
            #"{"name": "file", "calls": [{"api": "messages", "model": "claude-haiku-4-5", "weight": 1}], "stream_share": 1, "start_within": [{"value": "00h-00m-30s", "weight": 1}], "prompt_words": [3, 3], "max_output_tokens": [8, 8]}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        let mix = try Mix.named(path)
        #expect(mix.name == "file" && mix.typedShare == 0)
        let call = Workload(mix: mix, seed: 1, runID: "f").call(0)
        #expect(call.stream && call.request.api == .messages)
        #expect(call.request.startWithin == "default", "Anthropic has no flex: the duration becomes default")

        try #"{"name": "broken", "calls": []"#.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: Mix.Invalid.self) { try Mix.named(path) }
        do {
            _ = try Mix.named("no-such-mix")
            Issue.record("an unknown name is an error")
        } catch {
            #expect(
                error.description.contains(
                    "neither a built-in mix (default, long, overhead, quickstart, savings, typed)"
                )
            )
        }
    }
}
