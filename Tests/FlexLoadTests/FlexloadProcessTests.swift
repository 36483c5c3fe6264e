import FlexServer
import FlexTestSupport
import Foundation
import NIOCore
import Testing

/// The flexload executable as a user runs it: flags checked with clear errors, and a run against an
/// in-process flexd and its flexsim writing the JSON report and the SVG chart, and one through
/// flexd's HTTP door.
@Suite("flexload process")
struct FlexloadProcessTests {
    static func run(_ arguments: [String]) async throws -> (status: Int32?, output: String) {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent(
            "flexload-\(UInt64.random(in: 0...UInt64.max)).log"
        ).path
        defer { try? FileManager.default.removeItem(atPath: output) }
        let process = try ChildProcess(
            executable: try Executables.path("flexload"),
            arguments: arguments,
            outputPath: output
        )
        let status = await process.exitStatus(within: .seconds(120))
        process.stop()
        return (status, (try? String(contentsOfFile: output, encoding: .utf8)) ?? "")
    }

    @Test(arguments: [
        (["--rate", "10"], "give a flexd target (--target HOST:PORT or --target-http URL), --direct URL, or both"),
        (["--target", "127.0.0.1"], "--target must be HOST:PORT"),
        (
            ["--target", "127.0.0.1:7400", "--target-http", "http://127.0.0.1:7402"],
            "give --target HOST:PORT or --target-http URL, not both"
        ),
        (["--target-http", "127.0.0.1:7402"], "--target-http must be a URL"),
        (
            ["--target", "127.0.0.1:7400", "--rate", "5", "--concurrency", "2"],
            "give --rate or --concurrency, not both"
        ),
        (
            ["--target", "127.0.0.1:7400", "--requests", "5", "--duration", "2"],
            "give --requests or --duration, not both"
        ),
        (["--direct", "127.0.0.1:9000"], "--direct must be a URL"),
        (["--target", "127.0.0.1:7400", "--mix", "nope"], "neither a built-in mix"),
        (["--target", "127.0.0.1:7400", "--rate", "0"], "--rate must be in"),
    ])
    func badFlagsFailFastWithTheReason(arguments: [String], message: String) async throws {
        let (status, output) = try await Self.run(arguments)
        #expect(status != nil && status != 0)
        #expect(output.contains(message), "\(output)")
    }

    @Test func aRunAgainstFlexdAndFlexsimWritesTheReportAndTheChart() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "flexload-run-\(UInt64.random(in: 0...UInt64.max))"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let json = directory.appendingPathComponent("report.json").path
        let svg = directory.appendingPathComponent("chart.svg").path
        try await ServerFixture.with { fixture in
            let (status, output) = try await Self.run([
                "--target", "127.0.0.1:\(fixture.port)", "--direct", "http://127.0.0.1:\(fixture.sim.port)",
                "--requests", "40", "--rate", "200", "--json", json, "--svg", svg, "--run-id", "process-run",
                "--show-calls", "3",
            ])
            #expect(status == 0, "\(output)")
            #expect(output.contains("added by flexd: p50"), "\(output)")
            #expect(output.contains("cost_above_standard: 0"), "\(output)")
            let callLines = output.split(separator: "\n").filter {
                $0.hasPrefix("0 ") || $0.hasPrefix("1 ") || $0.hasPrefix("2 ")
            }
            #expect(callLines.count == 6, "three calls, once for flexd and once direct: \(output)")
        }
        let report = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any]
        )
        #expect(report["requests"] as? Int == 40)
        #expect(report["errors"] as? Int == 0)
        #expect(report["cost_above_standard"] as? Int == 0)
        #expect((report["direct"] as? [String: Any])?["requests"] as? Int == 40)
        #expect(report["added_latency_ms"] != nil)
        #expect(((report["savings"] as? [String: Any])?["saved_picousd"] as? Int ?? 0) > 0)
        let chart = try String(contentsOfFile: svg, encoding: .utf8)
        #expect(chart.hasPrefix("<svg") && chart.contains("<polyline") && chart.contains("flex-first + fee"))
    }

    @Test func aRunThroughTheHTTPDoorReportsWhatTheDoorAdds() async throws {
        let json = FileManager.default.temporaryDirectory.appendingPathComponent(
            "flexload-door-\(UInt64.random(in: 0...UInt64.max)).json"
        ).path
        defer { try? FileManager.default.removeItem(atPath: json) }
        try await ServerFixture.with(configure: { $0.http = FlexServer.HTTPDoorConfiguration(port: 0) }) { fixture in
            let door = try #require(try await fixture.server.httpListeningAddress()?.port)
            let (status, output) = try await Self.run([
                "--target-http", "http://127.0.0.1:\(door)", "--direct", "http://127.0.0.1:\(fixture.sim.port)",
                "--requests", "30", "--rate", "200", "--json", json, "--run-id", "process-door",
            ])
            #expect(status == 0, "\(output)")
            #expect(output.contains("added by flexd-http: p50"), "\(output)")
        }
        let report = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any]
        )
        #expect((report["run"] as? [String: Any])?["target"] as? String == "flexd-http")
        #expect(report["requests"] as? Int == 30)
        #expect(report["errors"] as? Int == 0)
        #expect((report["direct"] as? [String: Any])?["requests"] as? Int == 30)
        #expect(report["added_latency_ms"] != nil)
    }
}
