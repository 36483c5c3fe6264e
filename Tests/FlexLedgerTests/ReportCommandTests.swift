import FlexLedger
import Foundation
import Testing

extension LedgerStoreTests {
    /// The real `flexd report` executable on both stores.
    @Suite struct ReportCommandTests {
        static func flexd(_ arguments: [String]) async throws -> ProcessRunner.Result {
            try await ProcessRunner.run([try ProcessRunner.product("flexd").path] + arguments)
        }

        @Test(arguments: StoreKind.allCases)
        func printsEachFormat(_ kind: StoreKind) async throws {
            try await kind.withStore { store, location async throws in
                let records = (0..<40).map { SyntheticRecord.make($0, tenant: $0 % 2 == 0 ? "acme" : "globex") }
                _ = try await store.write(records)
                let expected = try await store.monthlyTotals(ReportQuery())
                let url = kind.url(location)

                let json = try await Self.flexd(["report", "--ledger", url, "--format", "json"])
                #expect(json.status == 0, "\(json.output)")
                let object = try #require(
                    try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any]
                )
                let rows = try #require(object["rows"] as? [[String: Any]])
                #expect(rows.map { $0["tenant"] as? String } == expected.map(\.tenant))
                #expect(rows.map { $0["fee_picousd"] as? String } == expected.map(\.fee.picoUSDString))

                let csv = try await Self.flexd([
                    "report", "--ledger", url, "--format", "csv", "--tenant", "globex", "--month", "2026-11",
                ])
                #expect(csv.status == 0)
                #expect(csv.output == ReportRenderer.render(expected.filter { $0.tenant == "globex" }, as: .csv))

                let table = try await Self.flexd(["report", "--ledger", url])
                #expect(table.status == 0)
                #expect(table.output == ReportRenderer.render(expected, as: .table))
            }
        }

        @Test func refusesBadInputClearly() async throws {
            let bad = try await Self.flexd(["report", "--ledger", "mysql://root:hunter2@db/x"])
            #expect(bad.status != 0)
            #expect(bad.output.contains("invalid_location") && bad.output.contains("sqlite:PATH"))
            #expect(!bad.output.contains("hunter2"))

            let month = try await Self.flexd([
                "report", "--ledger", "sqlite:/nonexistent/x.sqlite", "--month", "2026-13",
            ])
            #expect(month.status != 0 && month.output.contains("YYYY-MM"))

            let format = try await Self.flexd(["report", "--ledger", "sqlite:/nonexistent/x.sqlite", "--format", "xml"])
            #expect(format.status != 0 && format.output.contains("xml"))
        }

        @Test func aMissingLedgerIsNotCreated() async throws {
            let folder = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent(
                "flexd-missing-\(UUID().uuidString)"
            )
            let path = folder.appendingPathComponent("ledger.sqlite").path
            let missing = try await Self.flexd(["report", "--ledger", "sqlite:\(path)"])
            #expect(missing.status != 0)
            #expect(missing.output.contains("ledger_not_found"))
            #expect(!FileManager.default.fileExists(atPath: folder.path))
            // The default ledger is in the data folder.
            let byDefault = try await Self.flexd(["report", "--data-dir", folder.path])
            #expect(byDefault.status != 0 && byDefault.output.contains(path))
        }
    }
}
