import FlexCore
import FlexLedger
import FlexServer
import Logging
import Metrics
import ServiceLifecycle

/// flexd's savings ledger behind the server: each call's record is appended (and durable) before
/// the server sends the call's final frame. As a `Service` it closes the ledger — writing what is
/// queued — when the group shuts down; it is listed before the server, so it closes after the
/// server has drained.
struct LedgerRecorder: SavingsRecorder, Service {
    let ledger: Ledger
    let instanceID: String
    let logger: Logger

    func record(_ call: FinishedCall) async throws {
        let outcome: LedgerOutcome =
            call.status.code == .ok ? .completed : .failed(status: call.status.code, errorCode: call.status.errorCode)
        guard
            let record = LedgerRecord(
                savings: call.savings,
                tenant: call.tenant.id,
                instanceID: self.instanceID,
                outcome: outcome,
                receivedAtMicroseconds: call.receivedAtMicroseconds,
                completedAtMicroseconds: call.completedAtMicroseconds,
                totalMicroseconds: call.duration.unsignedMicroseconds
            )
        else {
            throw LedgerError(.invalidRecord, "the savings record lacks a provider, API or requested tier")
        }
        switch try await self.ledger.append(record) {
        case .recorded:
            break
        case .duplicate:
            self.logger.notice(
                "the call's record was already in the ledger",
                metadata: ["request_id": "\(record.requestID)"]
            )
        case .conflict(let fields):
            // The first record stays; this one is set apart for a person to look at.
            Counter(label: "flexd_ledger_conflicts_total").increment()
            self.logger.warning(
                "another call with this request id is in the ledger; this one was set apart",
                metadata: [
                    "request_id": "\(record.requestID)", "tenant": "\(record.tenant)",
                    "differing_fields": "\(fields.joined(separator: ","))",
                ]
            )
        }
    }

    func run() async throws {
        try? await gracefulShutdown()
        await self.ledger.close()
        self.logger.info("ledger closed", metadata: ["records": "\(self.ledger.statistics.records)"])
    }
}
