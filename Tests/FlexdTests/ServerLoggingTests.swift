import FlexCodec
import FlexServer
import FlexTestSupport
import InMemoryLogging
import Logging
import Testing

/// What the server logs about a call says which call it was, whatever the level: at `debug` the
/// call's logger carries its identity to every line (the router's included); above, the server adds
/// it to its own lines.
@Suite("FlexServer: a call's log lines", .serialized)
struct ServerLoggingTests {
    @Test(arguments: [Logger.Level.info, .debug])
    func theCallsLinesSayWhichCall(level: Logger.Level) async throws {
        let handler = InMemoryLogHandler()
        var logger = Logger(label: "flexd-test", factory: { _ in handler })
        logger.logLevel = level
        try await ServerFixture.with(logger: logger) { fixture in
            let (client, _) = try await WireClient.connected(port: fixture.port)
            try client.call(1, ServerFixture.request("logged-1"))
            _ = try await client.readCall(1)
        }
        let identity: Logger.Metadata = ["request_id": "logged-1", "tenant": "\(Tenant.anonymous.id)", "stream": "1"]
        let callLines = handler.entries.filter { $0.message == "call" }
        #expect(callLines.count == 1)
        for (key, value) in identity {
            #expect(callLines.first?.metadata[key] == value, "the call line's \(key)")
        }
        #expect(callLines.first?.metadata["status"] == "\(StatusCode.ok)")
        if level == .debug {
            // The router's lines about the call ("attempt", "flex attempt") carry it too.
            let routerLines = handler.entries.filter {
                $0.level == .debug && $0.message != "call" && $0.metadata["request_id"] == "logged-1"
            }
            #expect(!routerLines.isEmpty)
            for line in routerLines {
                #expect(
                    line.metadata["stream"] == "1" && line.metadata["tenant"] == identity["tenant"],
                    "\(line.message)"
                )
            }
        }
    }
}
