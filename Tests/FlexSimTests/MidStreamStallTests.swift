import FlexCatalog
import FlexCore
import FlexJSON
import FlexSim
import Foundation
import NIOCore
import Testing

/// `stall_mid_stream` under `instant`, whose tiers send all output at once: the stream still
/// stops halfway through its output events, and goes on only when the stall is over.
@Suite struct MidStreamStallTests {
    static let streams: [(path: String, headers: [String: String], body: String)] = [
        (
            "/openai/v1/chat/completions", openAIKey,
            #"{"model":"gpt-5","messages":[{"role":"user","content":"hi"}],"stream":true}"#
        ),
        (
            "/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", geminiKey,
            #"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#
        ),
    ]

    /// Sends one request with `fault` and reads until the server sends nothing more for a second
    /// (after the first event has arrived): what a client sees of a stream that has stopped.
    static func readUntilQuiet(port: Int, _ index: Int, fault: String) throws -> (TestHTTPClient, TestResponse) {
        let stream = Self.streams[index]
        let client = try TestHTTPClient(port: port)
        client.send(stream.path, headers: stream.headers.merging(["x-flexsim-fault": fault]) { $1 }, body: stream.body)
        client.read { $0.contains("data: ") }
        client.setReadTimeout(seconds: 1)
        return (client, TestResponse(raw: client.read { _ in false }))
    }

    @Test(arguments: 0..<2)
    func instantStopsHalfwayUntilTheStallIsOver(_ index: Int) async throws {
        try await withSim(.instant) { server, port in
            // Where the stall applies: the point where `cut_mid_stream` cuts the same stream.
            let (_, cut) = try Self.readUntilQuiet(port: port, index, fault: "cut_mid_stream")
            let whole = try TestHTTPClient(port: port)
            whole.send(Self.streams[index].path, headers: Self.streams[index].headers, body: Self.streams[index].body)
            let wholeEvents = whole.response().events
            #expect(cut.events.count > 1 && cut.events.count < wholeEvents.count)

            let (client, stalled) = try Self.readUntilQuiet(port: port, index, fault: "stall_mid_stream=600s")
            #expect(stalled.status == 200)
            #expect(stalled.events.count == cut.events.count, "\(stalled.events)")
            #expect(!stalled.raw.contains("[DONE]") && !stalled.raw.hasSuffix("0\r\n\r\n"))
            // Still in flight: nothing recorded for it until the client gives up.
            #expect(try ledgerRows(server).count == 2)
            client.closeNow()
            let row = try await waitForRow(server, count: 3)
            #expect(row["outcome"] == "cancelled_after_start" && row["fault"] == "stall_mid_stream=600.0s")
        }
    }

    /// The same stall from the profile rather than the header.
    @Test func aProfileFaultStallsAnInstantStreamToo() async throws {
        var profile = Profile.instant
        profile.faults = [.init(probability: 1, fault: "stall_mid_stream=600s")]
        try await withSim(profile) { server, port in
            let stream = Self.streams[0]
            let client = try TestHTTPClient(port: port)
            client.send(stream.path, headers: stream.headers, body: stream.body)
            client.read { $0.contains("data: ") }
            client.setReadTimeout(seconds: 1)
            let stalled = TestResponse(raw: client.read { _ in false })
            #expect(stalled.events.count > 1)
            #expect(!stalled.raw.contains("[DONE]"))
            #expect(try ledgerRows(server).isEmpty)
            client.closeNow()
            #expect(try await waitForRow(server, count: 1)["outcome"] == "cancelled_after_start")
        }
    }
}
