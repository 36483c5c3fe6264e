import FlexCodec
import FlexLoadKit
import Foundation
import Testing

#if canImport(FoundationXML)
import FoundationXML
#endif

@Suite("Results, report and chart")
struct ResultsAndReportTests {
    static func record(
        _ requested: Tier,
        _ served: Tier,
        standard: Int64,
        actual: Int64,
        tokens: UInt64,
        fallback: FallbackReason? = nil
    ) -> SavingsRecord {
        var record = SavingsRecord(tierRequested: requested, tierServed: served)
        record.fallbackReason = fallback
        record.fellBack = fallback != nil
        record.tokens = TokenUsage(inputTokens: tokens / 2, outputTokens: tokens - tokens / 2)
        record.standardCostPicoUSD = standard
        record.actualCostPicoUSD = actual
        record.savedPicoUSD = max(0, standard - actual)
        record.feePicoUSD = served == .flex ? max(0, standard - actual) / 5 : 0
        return record
    }

    /// Five calls whose sums are easy to check by hand.
    static func results() -> Results {
        let results = Results()
        let ms = { (value: Int) in Duration.milliseconds(value) }
        results.record(
            CallResult(
                ok: true,
                latency: ms(10),
                firstByte: ms(4),
                savings: Self.record(.flex, .flex, standard: 1000, actual: 500, tokens: 100)
            )
        )
        results.record(
            CallResult(
                ok: true,
                latency: ms(20),
                firstByte: ms(5),
                savings: Self.record(.flex, .flex, standard: 3000, actual: 1500, tokens: 300)
            )
        )
        results.record(
            CallResult(
                ok: true,
                latency: ms(30),
                firstByte: ms(6),
                savings: Self.record(
                    .flex,
                    .standard,
                    standard: 2000,
                    actual: 2000,
                    tokens: 200,
                    fallback: .flexCapacity
                )
            )
        )
        // Priority costs more than standard by design: not a routing mistake.
        results.record(
            CallResult(
                ok: true,
                latency: ms(40),
                savings: Self.record(.priority, .priority, standard: 1000, actual: 1800, tokens: 100)
            )
        )
        // A standard request billed above standard is one (say, a provider reporting priority).
        results.record(
            CallResult(
                ok: true,
                latency: ms(50),
                savings: Self.record(.standard, .priority, standard: 1000, actual: 1800, tokens: 100)
            )
        )
        results.record(CallResult(ok: false, errorCode: "upstream_unavailable", latency: ms(60)))
        results.record(CallResult(ok: false, errorCode: "upstream_unavailable", latency: ms(70)))
        return results
    }

    @Test func theSummaryAddsUpEveryCall() {
        let summary = Self.results().summary(elapsed: .seconds(2))
        #expect(summary.requests == 7)
        #expect(summary.errors == 2 && summary.errorsByCode == ["upstream_unavailable": 2])
        #expect(summary.throughputRPS == 3.5)
        #expect(summary.tiers == ["flex": 2, "standard": 1, "priority": 2])
        #expect(summary.fallbacks.count == 1 && summary.fallbacks.reasons == ["flex_capacity": 1])
        #expect(summary.costAboveStandard == 1)
        #expect(summary.savings.standardCostPicoUSD == 8000)
        #expect(summary.savings.actualCostPicoUSD == 7600)
        #expect(summary.savings.savedPicoUSD == 2000)
        #expect(summary.savings.feePicoUSD == 400)
        #expect(summary.savings.tokenWeightedSavingsPct == 25)
        #expect(summary.savings.flexTokenSharePct == 50)
        #expect(summary.latencyMS.p50 >= 39.9 && summary.latencyMS.p50 <= 40.1)
        #expect(summary.latencyMS.max >= 69.9 && summary.latencyMS.max <= 70.1)
        #expect(summary.ttfbMS.max >= 5.99 && summary.ttfbMS.max <= 6.01)
    }

    /// The wait that bought nothing (flex waits of calls that fell back) and the calls whose flex
    /// wait went past their budget.
    @Test func wastedWaitAndCallsPastTheirBudget() throws {
        let results = Results()
        func call(_ startWithin: String, wait: Duration, fallback: FallbackReason?) {
            var record = Self.record(
                .flex,
                fallback == nil ? .flex : .standard,
                standard: 10,
                actual: 5,
                tokens: 10,
                fallback: fallback
            )
            record.startWithin = startWithin
            record.flexWaitMicroseconds = UInt64(wait.components.seconds) * 1_000_000
            results.record(CallResult(ok: true, latency: wait, savings: record))
        }
        call("00h-00m-10s", wait: .seconds(10), fallback: .flexStartTimeout)
        call("00h-00m-10s", wait: .seconds(4), fallback: .flexPredictedLate)
        call("00h-00m-30s", wait: .seconds(3), fallback: nil)
        call("00h-00m-05s", wait: .seconds(7), fallback: .flexStartTimeout)
        let fallbacks = results.summary(elapsed: .seconds(1)).fallbacks
        #expect(fallbacks.wastedWaitSeconds == 21)
        #expect(fallbacks.pastBudget == 1, "only the 7 s wait of a 5 s budget")
        #expect(fallbacks.reasons == ["flex_start_timeout": 2, "flex_predicted_late": 1])
    }

    @Test func theJSONReportHasTheBriefsFields() throws {
        let results = Self.results()
        let direct = Results()
        direct.record(CallResult(ok: true, latency: .milliseconds(8), firstByte: .milliseconds(2)))
        let report = Report(
            run: Report.Run(
                target: "flexd",
                mix: "default",
                seed: 1,
                pacing: "open loop, 10 req/s",
                stop: "7 requests",
                standardOnly: false
            ),
            main: results.summary(elapsed: .seconds(1)),
            direct: direct.summary(elapsed: .seconds(1))
        )
        let json = try #require(try JSONSerialization.jsonObject(with: Data(report.json().utf8)) as? [String: Any])
        for key in [
            "requests", "errors", "throughput_rps", "latency_ms", "ttfb_ms", "savings", "tiers", "fallbacks",
            "cost_above_standard",
            "run", "direct", "added_latency_ms",
        ] {
            #expect(json[key] != nil, "\(key)")
        }
        for key in ["latency_ms", "ttfb_ms", "added_latency_ms"] {
            let percentiles = try #require(json[key] as? [String: Double])
            #expect(Set(percentiles.keys).isSuperset(of: ["p50", "p90", "p99", "p999", "max"]))
        }
        let savings = try #require(json["savings"] as? [String: Any])
        #expect(savings["standard_cost"] as? Double == 8000 / 1e12)
        #expect(savings["saved_picousd"] as? Int == 2000)
        #expect(savings["token_weighted_savings_pct"] as? Double == 25)
        #expect((json["fallbacks"] as? [String: Any])?["count"] as? Int == 1)
        #expect((json["fallbacks"] as? [String: Any])?["wasted_wait_s"] as? Double == 0)
        #expect((json["fallbacks"] as? [String: Any])?["past_budget"] as? Int == 0)
        #expect(json["cost_above_standard"] as? Int == 1)
        let added = try #require(json["added_latency_ms"] as? [String: Double])
        #expect((61.9...62.1).contains(added["max"] ?? 0), "70 ms against 8 ms")
        let table = report.table()
        #expect(table.contains("added by flexd: p50 +"))
        #expect(table.contains("cost_above_standard: 1"))
        #expect(table.contains("fallbacks: 1 (flex_capacity 1); wasted wait 0.0 s; past budget 0"))
        #expect(table.contains("errors by code: upstream_unavailable 2"))
    }

    @Test func theChartIsWellFormedSVG() throws {
        let results = Self.results()
        let chart = Chart(
            title: "a <test> & more",
            series: [
                Chart.Series(name: "flexd", sortedMicroseconds: results.sortedSamples()),
                Chart.Series(name: "direct", sortedMicroseconds: [800, 900, 1_000, 2_000]),
            ],
            savings: results.summary(elapsed: .seconds(1)).savings
        )
        let svg = chart.svg()
        let counter = ElementCounter()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = counter
        #expect(parser.parse(), "the SVG parses as XML: \(parser.parserError.map { "\($0)" } ?? "")")
        #expect(counter.counts["polyline"] == 2, "one CDF line per series")
        #expect(counter.counts["rect", default: 0] >= 5, "background, plot frame and three cost bars")
        #expect(svg.contains("a &lt;test&gt; &amp; more"))
    }
}

final class ElementCounter: NSObject, XMLParserDelegate {
    var counts: [String: Int] = [:]

    func parser(
        _ parser: XMLParser,
        didStartElement name: String,
        namespaceURI: String?,
        qualifiedName: String?,
        attributes: [String: String] = [:]
    ) {
        self.counts[name, default: 0] += 1
    }

    /// A report goes to a regular file by rename, and through anything else in place: a symbolic
    /// link stays a link (a rename would replace it, as it would `/dev/null` or a FIFO).
    @Test func reportFilesAreRenamedIntoPlaceOnlyWhenTheyAreRegularFiles() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flexload-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let target = directory + "/report.json"
        let link = directory + "/latest.json"

        try ReportFile.write("first", to: target)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        try ReportFile.write("second", to: link)

        let type = try FileManager.default.attributesOfItem(atPath: link)[.type] as? FileAttributeType
        #expect(type == .typeSymbolicLink)
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "second")
        try ReportFile.write("third", to: target)
        #expect(try String(contentsOfFile: link, encoding: .utf8) == "third")
    }
}
