internal import Foundation

/// The SVG chart of a run: on the left the latency CDF of flexd and of direct calls (log-scaled
/// milliseconds against the share of calls), on the right what the calls cost standard-only
/// against flex-first (the provider bill, then with flexd's fee).
public struct Chart: Sendable {
    public struct Series: Sendable {
        public var name: String
        /// Latencies in microseconds, sorted ascending.
        public var sortedMicroseconds: [UInt64]

        public init(name: String, sortedMicroseconds: [UInt64]) {
            self.name = name
            self.sortedMicroseconds = sortedMicroseconds
        }
    }

    public var title: String
    public var series: [Series]
    public var savings: Summary.Savings?

    public init(title: String, series: [Series], savings: Summary.Savings?) {
        self.title = title
        self.series = series
        self.savings = savings
    }

    static let colors = ["#1f6feb", "#d1242f", "#1a7f37", "#8250df"]

    public func svg() -> String {
        let width = 960.0
        let height = 420.0
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="20" y="24" font-size="15" font-weight="bold">\(Self.escape(self.title))</text>

            """
        out += self.cdf(x: 60, y: 50, width: 560, height: 310)
        if let savings = self.savings, savings.standardCostPicoUSD > 0 {
            out += Self.costBars(savings, x: 700, y: 50, width: 230, height: 310)
        }
        out += "</svg>\n"
        return out
    }

    /// The latency CDF: x is log10(ms), y the share of calls at or below it.
    private func cdf(x: Double, y: Double, width: Double, height: Double) -> String {
        let all = self.series.flatMap { [$0.sortedMicroseconds.first, $0.sortedMicroseconds.last].compactMap { $0 } }
        guard let low = all.min(), let high = all.max() else { return "" }
        let minLog = floor(log10(max(Double(low), 1) / 1000))
        let maxLog = max(ceil(log10(max(Double(high), 1) / 1000)), minLog + 1)
        func px(_ micros: UInt64) -> Double {
            let value = log10(max(Double(micros), 1) / 1000)
            return x + (value - minLog) / (maxLog - minLog) * width
        }
        func py(_ share: Double) -> Double { y + height - share * height }
        var out = "<g>\n"
        out += "<rect x=\"\(x)\" y=\"\(y)\" width=\"\(width)\" height=\"\(height)\" fill=\"none\" stroke=\"#888\"/>\n"
        var decade = minLog
        while decade <= maxLog {
            let gx = x + (decade - minLog) / (maxLog - minLog) * width
            let label = decade < 0 ? String(format: "%g", pow(10, decade)) : String(Int(pow(10, decade)))
            out += "<line x1=\"\(Self.f(gx))\" y1=\"\(y)\" x2=\"\(Self.f(gx))\" y2=\"\(y + height)\" stroke=\"#ddd\"/>"
            out += "<text x=\"\(Self.f(gx))\" y=\"\(y + height + 16)\" text-anchor=\"middle\">\(label)</text>\n"
            decade += 1
        }
        for share in [0.0, 0.25, 0.5, 0.75, 0.9, 1.0] {
            out +=
                "<line x1=\"\(x)\" y1=\"\(Self.f(py(share)))\" x2=\"\(x + width)\" y2=\"\(Self.f(py(share)))\" stroke=\"#eee\"/>"
            out +=
                "<text x=\"\(x - 6)\" y=\"\(Self.f(py(share) + 4))\" text-anchor=\"end\">\(Int(share * 100))%</text>\n"
        }
        out +=
            "<text x=\"\(x + width / 2)\" y=\"\(y + height + 34)\" text-anchor=\"middle\">latency (ms, log scale)</text>\n"
        for (number, series) in self.series.enumerated() where !series.sortedMicroseconds.isEmpty {
            let samples = series.sortedMicroseconds
            let step = max(1, samples.count / 600)
            var points: [String] = []
            var index = 0
            while index < samples.count {
                points.append("\(Self.f(px(samples[index]))),\(Self.f(py(Double(index + 1) / Double(samples.count))))")
                index += step
            }
            points.append("\(Self.f(px(samples[samples.count - 1]))),\(Self.f(py(1)))")
            let color = Self.colors[number % Self.colors.count]
            out +=
                "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(points.joined(separator: " "))\"/>\n"
            out +=
                "<text x=\"\(x + 10)\" y=\"\(y + 18 + Double(number) * 16)\" fill=\"\(color)\">\(Self.escape(series.name)): "
                + String(
                    format: "p50 %.3f ms, p99 %.3f ms",
                    Self.percentile(samples, 0.5),
                    Self.percentile(samples, 0.99)
                )
                + "</text>\n"
        }
        return out + "</g>\n"
    }

    /// Three bars: the standard-only bill, the flex-first provider bill, and flex-first plus the fee.
    private static func costBars(
        _ savings: Summary.Savings,
        x: Double,
        y: Double,
        width: Double,
        height: Double
    ) -> String {
        let bars: [(String, Int64, String)] = [
            ("standard-only", savings.standardCostPicoUSD, "#8c959f"),
            ("flex-first", savings.actualCostPicoUSD, "#1a7f37"),
            ("flex-first + fee", savings.actualCostPicoUSD + savings.feePicoUSD, "#1f6feb"),
        ]
        let top = Double(savings.standardCostPicoUSD)
        let barWidth = width / Double(bars.count) * 0.6
        var out = "<g>\n<text x=\"\(x)\" y=\"\(y - 8)\">cost of the run (USD)</text>\n"
        for (number, bar) in bars.enumerated() {
            let barHeight = top > 0 ? Double(bar.1) / top * (height - 20) : 0
            let bx = x + Double(number) * width / Double(bars.count)
            let by = y + height - barHeight
            out +=
                "<rect x=\"\(Self.f(bx))\" y=\"\(Self.f(by))\" width=\"\(Self.f(barWidth))\" height=\"\(Self.f(barHeight))\" fill=\"\(bar.2)\"/>"
            out +=
                "<text x=\"\(Self.f(bx + barWidth / 2))\" y=\"\(Self.f(by - 4))\" text-anchor=\"middle\">"
                + String(format: "$%.4f", Summary.Savings.usd(bar.1)) + "</text>"
            out +=
                "<text x=\"\(Self.f(bx + barWidth / 2))\" y=\"\(y + height + 16)\" text-anchor=\"middle\" font-size=\"10\">\(bar.0)</text>\n"
        }
        out +=
            "<text x=\"\(x)\" y=\"\(y + height + 34)\">"
            + String(format: "saved %.2f%% token-weighted", savings.tokenWeightedSavingsPct) + "</text>\n"
        return out + "</g>\n"
    }

    /// The sample at or below which `share` of the samples lie (the smallest such), in ms.
    static func percentile(_ sorted: [UInt64], _ share: Double) -> Double {
        let index = max(0, Int((Double(sorted.count) * share).rounded(.up)) - 1)
        return Double(sorted[min(index, sorted.count - 1)]) / 1000
    }

    static func f(_ value: Double) -> String { String(format: "%.1f", value) }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
