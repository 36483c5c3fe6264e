/// One versioned step of the ledger schema, in both stores' SQL.
///
/// Migrations are applied in order, each in the transaction that records it in
/// `ledger_schema_migrations(version, name, applied_at_us)`. A shipped migration never changes:
/// a new column or index is a new migration.
package struct LedgerMigration: Sendable {
    package var version: Int
    package var name: String
    package var sqlite: [String]
    package var postgres: [String]

    package init(version: Int, name: String, sqlite: [String], postgres: [String]) {
        self.version = version
        self.name = name
        self.sqlite = sqlite
        self.postgres = postgres
    }
}

/// The ledger schema, as the list of its migrations.
package enum LedgerSchema {
    /// Every migration this flexd knows, oldest first.
    package static let migrations: [LedgerMigration] = [version1, version2]

    /// The version a store opened by this flexd ends at.
    package static var latestVersion: Int { migrations.last?.version ?? 0 }

    /// The table that records applied migrations (same in both stores).
    static let migrationsTableSQLite = """
        CREATE TABLE IF NOT EXISTS ledger_schema_migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at_us INTEGER NOT NULL
        )
        """
    static let migrationsTablePostgres = """
        CREATE TABLE IF NOT EXISTS ledger_schema_migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at_us BIGINT NOT NULL
        )
        """

    /// Checks the applied migrations against `known` and returns those still to apply.
    /// Throws `schema_too_new` for a ledger written by a newer flexd, `schema_mismatch` when an
    /// applied version has another name than this flexd's.
    static func pending(
        applied: [(version: Int, name: String)],
        known: [LedgerMigration]
    ) throws(LedgerError) -> [LedgerMigration] {
        let knownByVersion = Dictionary(known.map { ($0.version, $0) }, uniquingKeysWith: { first, _ in first })
        for (version, name) in applied {
            guard let migration = knownByVersion[version] else {
                throw LedgerError(
                    .schemaTooNew,
                    "the ledger's schema has migration \(version) (\(name)), which this flexd does not know (it knows up to \(known.last?.version ?? 0)); use a newer flexd"
                )
            }
            guard migration.name == name else {
                throw LedgerError(
                    .schemaMismatch,
                    "the ledger's migration \(version) is \"\(name)\", this flexd's is \"\(migration.name)\""
                )
            }
        }
        let done = Set(applied.map(\.version))
        return known.filter { !done.contains($0.version) }
    }

    // MARK: - Version 1

    private static let recordColumnsSQLite = """
            tenant TEXT NOT NULL,
            request_id TEXT NOT NULL,
            instance_id TEXT NOT NULL,
            provider TEXT NOT NULL,
            api TEXT NOT NULL,
            model TEXT NOT NULL,
            start_within TEXT NOT NULL,
            tier_requested TEXT NOT NULL,
            tier_served TEXT,
            tier_served_reported TEXT NOT NULL,
            fell_back INTEGER NOT NULL CHECK (fell_back IN (0, 1)),
            fallback_reason TEXT,
            flex_attempts INTEGER NOT NULL CHECK (flex_attempts >= 0),
            flex_wait_us INTEGER NOT NULL CHECK (flex_wait_us >= 0),
            time_to_start_us INTEGER NOT NULL CHECK (time_to_start_us >= 0),
            total_us INTEGER NOT NULL CHECK (total_us >= 0),
            input_tokens INTEGER NOT NULL CHECK (input_tokens >= 0),
            cached_input_tokens INTEGER NOT NULL CHECK (cached_input_tokens >= 0),
            cache_write_tokens INTEGER NOT NULL CHECK (cache_write_tokens >= 0),
            cache_write_1h_tokens INTEGER NOT NULL CHECK (cache_write_1h_tokens >= 0),
            output_tokens INTEGER NOT NULL CHECK (output_tokens >= 0),
            reasoning_tokens INTEGER NOT NULL CHECK (reasoning_tokens >= 0),
            standard_cost_picousd INTEGER NOT NULL CHECK (standard_cost_picousd >= 0),
            actual_cost_picousd INTEGER NOT NULL CHECK (actual_cost_picousd >= 0),
            saved_picousd INTEGER NOT NULL CHECK (saved_picousd >= 0),
            fee_picousd INTEGER NOT NULL CHECK (fee_picousd >= 0),
            price_date TEXT NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('completed', 'failed')),
            status_code TEXT NOT NULL,
            error_code TEXT NOT NULL,
            received_at_us INTEGER NOT NULL,
            completed_at_us INTEGER NOT NULL,
            billing_month TEXT NOT NULL
        """

    private static let recordColumnsPostgres = """
            tenant TEXT NOT NULL,
            request_id TEXT NOT NULL,
            instance_id TEXT NOT NULL,
            provider TEXT NOT NULL,
            api TEXT NOT NULL,
            model TEXT NOT NULL,
            start_within TEXT NOT NULL,
            tier_requested TEXT NOT NULL,
            tier_served TEXT,
            tier_served_reported TEXT NOT NULL,
            fell_back BOOLEAN NOT NULL,
            fallback_reason TEXT,
            flex_attempts BIGINT NOT NULL CHECK (flex_attempts >= 0),
            flex_wait_us BIGINT NOT NULL CHECK (flex_wait_us >= 0),
            time_to_start_us BIGINT NOT NULL CHECK (time_to_start_us >= 0),
            total_us BIGINT NOT NULL CHECK (total_us >= 0),
            input_tokens BIGINT NOT NULL CHECK (input_tokens >= 0),
            cached_input_tokens BIGINT NOT NULL CHECK (cached_input_tokens >= 0),
            cache_write_tokens BIGINT NOT NULL CHECK (cache_write_tokens >= 0),
            cache_write_1h_tokens BIGINT NOT NULL CHECK (cache_write_1h_tokens >= 0),
            output_tokens BIGINT NOT NULL CHECK (output_tokens >= 0),
            reasoning_tokens BIGINT NOT NULL CHECK (reasoning_tokens >= 0),
            standard_cost_picousd BIGINT NOT NULL CHECK (standard_cost_picousd >= 0),
            actual_cost_picousd BIGINT NOT NULL CHECK (actual_cost_picousd >= 0),
            saved_picousd BIGINT NOT NULL CHECK (saved_picousd >= 0),
            fee_picousd BIGINT NOT NULL CHECK (fee_picousd >= 0),
            price_date TEXT NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('completed', 'failed')),
            status_code TEXT NOT NULL,
            error_code TEXT NOT NULL,
            received_at_us BIGINT NOT NULL,
            completed_at_us BIGINT NOT NULL,
            billing_month TEXT NOT NULL
        """

    /// Records, keyed by (tenant, request id); conflicting second records set apart with the
    /// fields they differ in; an index for the monthly report.
    static let version1 = LedgerMigration(
        version: 1,
        name: "records and conflicts",
        sqlite: [
            """
            CREATE TABLE ledger_records (
            \(recordColumnsSQLite),
                recorded_at_us INTEGER NOT NULL,
                PRIMARY KEY (tenant, request_id)
            ) WITHOUT ROWID
            """,
            "CREATE INDEX ledger_records_by_month ON ledger_records (billing_month, tenant)",
            """
            CREATE TABLE ledger_conflicts (
            \(recordColumnsSQLite),
                fingerprint TEXT NOT NULL,
                differing_fields TEXT NOT NULL,
                detected_at_us INTEGER NOT NULL,
                PRIMARY KEY (tenant, request_id, fingerprint)
            ) WITHOUT ROWID
            """,
            "CREATE INDEX ledger_conflicts_by_month ON ledger_conflicts (billing_month, tenant)",
        ],
        postgres: [
            """
            CREATE TABLE ledger_records (
            \(recordColumnsPostgres),
                recorded_at_us BIGINT NOT NULL,
                PRIMARY KEY (tenant, request_id)
            )
            """,
            "CREATE INDEX ledger_records_by_month ON ledger_records (billing_month, tenant)",
            """
            CREATE TABLE ledger_conflicts (
            \(recordColumnsPostgres),
                fingerprint TEXT NOT NULL,
                differing_fields TEXT NOT NULL,
                detected_at_us BIGINT NOT NULL,
                PRIMARY KEY (tenant, request_id, fingerprint)
            )
            """,
            "CREATE INDEX ledger_conflicts_by_month ON ledger_conflicts (billing_month, tenant)",
        ]
    )

    // MARK: - Version 2

    /// The savings record's `retries` and `tokens_estimated`, in both tables. Rows written before
    /// read back as 0 and false (the defaults).
    static let version2 = LedgerMigration(
        version: 2,
        name: "retries and estimated tokens",
        sqlite: ["ledger_records", "ledger_conflicts"].flatMap { table in
            [
                "ALTER TABLE \(table) ADD COLUMN retries INTEGER NOT NULL DEFAULT 0 CHECK (retries >= 0)",
                "ALTER TABLE \(table) ADD COLUMN tokens_estimated INTEGER NOT NULL DEFAULT 0 CHECK (tokens_estimated IN (0, 1))",
            ]
        },
        postgres: ["ledger_records", "ledger_conflicts"].map { table in
            """
            ALTER TABLE \(table)
                ADD COLUMN retries BIGINT NOT NULL DEFAULT 0 CHECK (retries >= 0),
                ADD COLUMN tokens_estimated BOOLEAN NOT NULL DEFAULT false
            """
        }
    )
}
