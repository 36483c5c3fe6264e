import FlexCore
import FlexLoadKit
import Foundation

/// The live progress line on stderr: rewritten in place on a terminal, a plain line every five
/// seconds otherwise.
struct Progress: Sendable {
    let name: String
    let quiet: Bool
    let terminal = isatty(STDERR_FILENO) != 0

    var report: @Sendable (Results, Duration) -> Void {
        let name = self.name
        let quiet = self.quiet
        let terminal = self.terminal
        return { results, elapsed in
            guard !quiet else { return }
            let seconds = elapsed.components.seconds
            guard terminal || seconds % 5 == 0 else { return }
            let line = Self.line(name, results, elapsed)
            FileHandle.standardError.write(Data((terminal ? "\r\u{1B}[K" + line : line + "\n").utf8))
        }
    }

    func finish(_ results: Results, _ elapsed: Duration) {
        guard !self.quiet else { return }
        let line = Self.line(self.name, results, elapsed) + " (done)"
        FileHandle.standardError.write(Data(((self.terminal ? "\r\u{1B}[K" : "") + line + "\n").utf8))
    }

    static func line(_ name: String, _ results: Results, _ elapsed: Duration) -> String {
        let seconds = elapsed.seconds
        let count = results.count
        return "\(name): "
            + String(
                format: "%d calls in %.0f s, %.1f/s, %d errors, p99 %.3f ms, saved $%.6f",
                count,
                seconds,
                seconds > 0 ? Double(count) / seconds : 0,
                results.errorCount,
                results.p99Milliseconds,
                Double(results.savedSoFar) / 1e12
            )
    }
}
