import FlexCore
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
