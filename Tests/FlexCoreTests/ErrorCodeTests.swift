import FlexCore
import Foundation
import Testing

/// The one table of error codes: every code once, by a stable snake_case name, with a status that
/// is not OK unless the code is a graceful GOAWAY's.
@Suite struct ErrorCodeTests {
    @Test func everyCodeIsListedOnceByAStableName() {
        let names = ErrorCode.all.map(\.name)
        #expect(Set(names).count == names.count, "a name appears twice")
        for name in names {
            #expect(name.allSatisfy { $0.isLowercase || $0 == "_" }, "\(name) is not snake_case")
            #expect(ErrorCode(name: name)?.name == name)
        }
        #expect(ErrorCode(name: "no_such_code") == nil)
    }

    @Test func onlyGracefulConnectionCodesAreSentWithOK() {
        for code in ErrorCode.all where code.allows(.ok) {
            #expect(code.scope == .connection, "\(code) is sent with OK but is not a connection's")
        }
        #expect(ErrorCode.idleTimeout.allows(.ok) && ErrorCode.serverShuttingDown.allows(.ok))
    }

    @Test func aStatusBuiltFromACodeCarriesItsNameAndStatus() {
        let status = Status(.missingStartWithin, "start_within is required", details: ["field": "start_within"])
        #expect(status.code == .invalidArgument)
        #expect(status.errorCode == "missing_start_within")
        #expect(status.error == .missingStartWithin)
        #expect(status.details == ["field": "start_within"])
        let before = Status(.upstreamStreamTruncated, "ended before it started", status: .unavailable)
        #expect(before.code == .unavailable && before.errorCode == "upstream_stream_truncated")
    }

    @Test func aFailureIsOneReferenceWideAndKeepsItsRecord() {
        #expect(MemoryLayout<CallFailure>.size == MemoryLayout<AnyObject>.size)
        var failure = CallFailure(.cancelled, "gone")
        #expect(failure.status.code == .cancelled && failure.savings == nil)
        failure.savings = SavingsRecord(requestID: "billed")
        #expect(failure.savings?.requestID == "billed" && failure.status.errorCode == "cancelled")
    }
}

/// PROTOCOL.md, section 9.2, lists the same table for client authors: every code, once, with the
/// same statuses and the same answer to "retry later?".
@Suite struct ProtocolErrorTableTests {
    static let protocolPath = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Proto/PROTOCOL.md").path

    /// The rows of section 9.2: `error_code` → (statuses as written, "yes"/"no").
    static func documentedRows() throws -> [String: (statuses: String, retry: String)] {
        let text = try String(contentsOfFile: Self.protocolPath, encoding: .utf8)
        guard let start = text.range(of: "### 9.2 Error codes"),
            let end = text.range(of: "## 10.", range: start.upperBound..<text.endIndex)
        else { return [:] }
        var rows: [String: (String, String)] = [:]
        for line in text[start.upperBound..<end.lowerBound].split(separator: "\n") where line.hasPrefix("| `") {
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            guard cells.count >= 5, cells[2] != "status" else { continue }  // not the header row
            let name = cells[1].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
            #expect(rows[name] == nil, "\(name) is listed twice in PROTOCOL.md")
            rows[name] = (cells[2], cells[3])
        }
        return rows
    }

    static func wireName(_ code: StatusCode) -> String { code.description }

    @Test func protocolMDListsEveryCodeWithItsStatusesAndRetryability() throws {
        let rows = try Self.documentedRows()
        #expect(
            Set(rows.keys) == Set(ErrorCode.all.map(\.name)),
            "only in PROTOCOL.md: \(Set(rows.keys).subtracting(ErrorCode.all.map(\.name))); only in the table: \(Set(ErrorCode.all.map(\.name)).subtracting(rows.keys))"
        )
        for code in ErrorCode.all {
            guard let row = rows[code.name] else { continue }
            let statuses = row.statuses.components(separatedBy: ", ")
            #expect(statuses.first == Self.wireName(code.status), "\(code): PROTOCOL.md says \(row.statuses)")
            if code != .cancelled {
                #expect(
                    Set(statuses.dropFirst()) == Set(code.alternativeStatuses.map(Self.wireName)),
                    "\(code): PROTOCOL.md says \(row.statuses)"
                )
            }
            #expect(row.retry == (code.isRetryable ? "yes" : "no"), "\(code): PROTOCOL.md says retry \(row.retry)")
        }
    }
}
