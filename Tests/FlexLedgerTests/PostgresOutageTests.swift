import FlexLedger
import Foundation
import Testing

/// What a PostgreSQL ledger does when its server goes away: appends fail (after postgres-nio's
/// pool gives up, about a minute), they do not hang. Runs its own server, which it stops.
@Suite struct PostgresOutageTests {
    @Test func appendsFailClearlyWhenTheServerIsGone() async throws {
        let server = try await PostgresTestServer.start()
        let ledger: Ledger
        do {
            let location = try await server.createDatabase()
            let store = try await LedgerLocation.postgres(location).openStore()
            ledger = Ledger(store: store)
            #expect(try await ledger.append(SyntheticRecord.make(1, tenant: "acme")) == .recorded)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
        let error = await #expect(throws: LedgerError.self) {
            try await ledger.append(SyntheticRecord.make(2, tenant: "acme"))
        }
        #expect(error?.code == .unavailable)
        #expect(error?.message.contains("no connection") == true, "\(String(describing: error))")
        await ledger.close()
    }
}
