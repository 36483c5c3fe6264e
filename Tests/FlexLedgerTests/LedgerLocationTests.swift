import FlexLedger
import Testing

/// The `--ledger` syntax.
@Suite struct LedgerLocationTests {
    @Test func sqlitePaths() throws {
        #expect(
            try LedgerLocation(parsing: "sqlite:/var/lib/flexd/ledger.sqlite")
                == .sqlite(path: "/var/lib/flexd/ledger.sqlite")
        )
        #expect(try LedgerLocation(parsing: "sqlite:ledger.sqlite") == .sqlite(path: "ledger.sqlite"))
        #expect(try LedgerLocation(parsing: "sqlite:///tmp/x.db") == .sqlite(path: "/tmp/x.db"))
    }

    @Test func postgresURLs() throws {
        #expect(
            try LedgerLocation(parsing: "postgres://flexd@db.internal:6432/ledger")
                == .postgres(.init(host: "db.internal", port: 6432, user: "flexd", database: "ledger"))
        )
        #expect(
            try LedgerLocation(parsing: "postgresql://flexd@127.0.0.1/ledger")
                == .postgres(.init(host: "127.0.0.1", port: 5432, user: "flexd", database: "ledger"))
        )
        #expect(
            try LedgerLocation(parsing: "postgres://fl%40xd:p%3Ass@[::1]:5433/led%20ger?sslmode=require")
                == .postgres(
                    .init(host: "::1", port: 5433, user: "fl@xd", password: "p:ss", database: "led ger", tls: .require)
                )
        )
        #expect(
            try LedgerLocation(parsing: "postgres://flexd@h/db", environment: ["PGPASSWORD": "from-env"])
                == .postgres(.init(host: "h", user: "flexd", password: "from-env", database: "db"))
        )
    }

    @Test(arguments: [
        ("", "unsupported ledger"),
        ("ledger.sqlite", "unsupported ledger"),
        ("mysql://root@h/db", "unsupported ledger"),
        ("sqlite:", "has no path"),
        ("postgres://h:5432/db", "USER@"),
        ("postgres://u@h:5432", "/DATABASE"),
        ("postgres://u@h:5432/", "no database"),
        ("postgres://u@h:port/db", "not a number"),
        ("postgres://u@h:70000/db", "outside 1...65535"),
        ("postgres://u@/db", "no host"),
        ("postgres://u@h/db?sslmode=verify-full", "sslmode"),
        ("postgres://u@h/db?application_name=x", "unsupported option"),
    ])
    func invalidValuesSayWhatIsWrong(_ text: String, _ expected: String) {
        #expect {
            try LedgerLocation(parsing: text)
        } throws: { error in
            guard let error = error as? LedgerError else { return false }
            return error.code == .invalidLocation && error.message.contains(expected)
        }
    }

    @Test func passwordsNeverShow() throws {
        let location = try LedgerLocation(parsing: "postgres://flexd:hunter2@db:5432/ledger")
        #expect(location.description == "postgres://flexd:***@db:5432/ledger")
        #expect(!"\(location)".contains("hunter2"))
        for bad in [
            "mysql://root:hunter2@db/x", "postgres://flexd:hunter2@db:99999/ledger", "postgres://flexd:hunter2@db:5432",
        ] {
            #expect {
                try LedgerLocation(parsing: bad)
            } throws: { error in
                !"\(error)".contains("hunter2")
            }
        }
    }

    @Test func theDefaultIsASQLiteFileInTheDataFolder() {
        #expect(
            LedgerLocation.defaultDataDirectory(environment: ["FLEXD_DATA_DIR": "/srv/flexd", "HOME": "/root"])
                == "/srv/flexd"
        )
        #expect(
            LedgerLocation.defaultDataDirectory(environment: ["XDG_DATA_HOME": "/x", "HOME": "/root"]) == "/x/flexd"
        )
        #expect(
            LedgerLocation.defaultDataDirectory(environment: ["HOME": "/home/ada"]) == "/home/ada/.local/share/flexd"
        )
        #expect(
            LedgerLocation.defaultLocation(dataDirectory: "/srv/flexd") == .sqlite(path: "/srv/flexd/ledger.sqlite")
        )
    }
}
