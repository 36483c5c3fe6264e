import ArgumentParser
import FlexLedger
import Foundation

/// `flexd report`: the savings ledger's per-tenant, per-month fee report.
struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Print the savings ledger's per-tenant, per-month totals and fees.",
        discussion: """
            Months are UTC calendar months (a call counts in the month it ended). Money is exact: \
            USD with every significant decimal, and picousd (1 USD = 10^12 picousd) in JSON and CSV. \
            A tenant's month is billed when its fee reaches $20.
            """
    )

    @Option(
        help: ArgumentHelp(
            "The ledger: sqlite:PATH or postgres://USER@HOST:PORT/DATABASE (PGPASSWORD is used when the URL has no password).",
            discussion: "Default: ledger.sqlite in the data folder.",
            valueName: "ledger"
        )
    )
    var ledger: String?

    @Option(
        name: .customLong("data-dir"),
        help: ArgumentHelp(
            "flexd's data folder, where the default ledger is (default: $FLEXD_DATA_DIR, else $XDG_DATA_HOME/flexd, else ~/.local/share/flexd).",
            valueName: "path"
        )
    )
    var dataDirectory: String?

    @Option(help: "table, json or csv.")
    var format: FormatOption = .table

    @Option(help: ArgumentHelp("Only this UTC month.", valueName: "YYYY-MM"))
    var month: String?

    @Option(help: "Only this tenant.")
    var tenant: String?

    func validate() throws {
        if let month, BillingMonth(month) == nil {
            throw ValidationError("--month \"\(month)\" is not a month; use YYYY-MM, e.g. 2026-11")
        }
        if let tenant, tenant.isEmpty {
            throw ValidationError("--tenant is empty")
        }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let location: LedgerLocation
        if let ledger {
            location = try LedgerLocation(parsing: ledger, environment: environment)
        } else {
            location = .defaultLocation(
                dataDirectory: self.dataDirectory ?? LedgerLocation.defaultDataDirectory(environment: environment)
            )
        }
        let store = try await location.openStore(createIfMissing: false)
        let totals: [MonthlyTotals]
        do {
            totals = try await store.monthlyTotals(
                ReportQuery(month: self.month.flatMap(BillingMonth.init), tenant: self.tenant)
            )
        } catch {
            await store.close()
            throw error
        }
        await store.close()
        FileHandle.standardOutput.write(Data(ReportRenderer.render(totals, as: self.format.format).utf8))
    }
}

/// `--format`: the ledger's ``ReportFormat`` as a command-line value.
enum FormatOption: String, CaseIterable, ExpressibleByArgument {
    case table
    case json
    case csv

    var format: ReportFormat {
        switch self {
        case .table: .table
        case .json: .json
        case .csv: .csv
        }
    }
}
