/// Where the ledger lives: the value of `flexd --ledger`.
///
/// - `sqlite:PATH` — an SQLite file (created with its folder when missing); `sqlite:///abs/path`
///   is accepted too.
/// - `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|prefer|require]`
///   (`postgresql://` too). The port defaults to 5432, TLS to `disable`. Without a password in
///   the URL, `PGPASSWORD` is used when set. Percent-escapes are decoded in every part.
///
/// ``description`` never shows the password.
public enum LedgerLocation: Sendable, Hashable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(PostgresLocation)

    /// A PostgreSQL server and database.
    public struct PostgresLocation: Sendable, Hashable {
        public enum TLSMode: String, Sendable, Hashable {
            case disable
            case prefer
            case require
        }

        public var host: String
        public var port: Int
        public var user: String
        public var password: String?
        public var database: String
        public var tls: TLSMode

        public init(
            host: String,
            port: Int = 5432,
            user: String,
            password: String? = nil,
            database: String,
            tls: TLSMode = .disable
        ) {
            self.host = host
            self.port = port
            self.user = user
            self.password = password
            self.database = database
            self.tls = tls
        }
    }

    private static let usage = "use sqlite:PATH or postgres://USER@HOST:PORT/DATABASE"

    /// Parses a `--ledger` value; throws ``LedgerError`` (`invalid_location`) saying what is wrong
    /// and what is expected. The error never repeats a password.
    ///
    /// - Parameter environment: Where `PGPASSWORD` is looked up (the process environment by default).
    public init(parsing text: String, environment: [String: String] = [:]) throws(LedgerError) {
        if text.hasPrefix("sqlite:") {
            var path = String(text.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path.removeFirst(2) }
            guard !path.isEmpty else {
                throw LedgerError(
                    .invalidLocation,
                    "the ledger \"sqlite:\" has no path; \(Self.usage), e.g. sqlite:/var/lib/flexd/ledger.sqlite"
                )
            }
            guard !path.utf8.contains(0) else {
                throw LedgerError(.invalidLocation, "the ledger's SQLite path contains a NUL byte")
            }
            self = .sqlite(path: path)
            return
        }
        for scheme in ["postgres://", "postgresql://"] where text.hasPrefix(scheme) {
            self = .postgres(try Self.parsePostgres(String(text.dropFirst(scheme.count)), environment: environment))
            return
        }
        let scheme = text.split(separator: ":", maxSplits: 1).first.map(String.init) ?? ""
        let shown = text.contains("@") || text.contains("://") ? "\(scheme):…" : text
        throw LedgerError(.invalidLocation, "unsupported ledger \"\(shown.prefix(200))\"; \(Self.usage)")
    }

    private static func parsePostgres(
        _ rest: String,
        environment: [String: String]
    ) throws(LedgerError) -> PostgresLocation {
        func fail(_ why: String) -> LedgerError {
            LedgerError(
                .invalidLocation,
                "the PostgreSQL ledger URL \(why); expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|prefer|require]"
            )
        }
        var remainder = Substring(rest)
        var queryText: Substring = ""
        if let question = remainder.firstIndex(of: "?") {
            queryText = remainder[remainder.index(after: question)...]
            remainder = remainder[..<question]
        }
        guard let slash = remainder.firstIndex(of: "/") else { throw fail("has no /DATABASE") }
        let authority = remainder[..<slash]
        let databaseText = remainder[remainder.index(after: slash)...]
        guard let at = authority.lastIndex(of: "@") else { throw fail("has no USER@ before the host") }
        let userInfo = authority[..<at]
        let hostPort = authority[authority.index(after: at)...]
        var user = userInfo
        var password: Substring?
        if let colon = userInfo.firstIndex(of: ":") {
            user = userInfo[..<colon]
            password = userInfo[userInfo.index(after: colon)...]
        }
        guard let userName = percentDecoded(user), !userName.isEmpty else { throw fail("has no user name") }
        guard let database = percentDecoded(databaseText), !database.isEmpty, !database.contains("/") else {
            throw fail("has no database name (or more than one path segment)")
        }
        var decodedPassword: String?
        if let password {
            guard let decoded = percentDecoded(password) else { throw fail("has a badly escaped password") }
            decodedPassword = decoded
        } else if let fromEnvironment = environment["PGPASSWORD"], !fromEnvironment.isEmpty {
            decodedPassword = fromEnvironment
        }
        var host = hostPort
        var port = 5432
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { throw fail("has an unclosed [IPv6] host") }
            host = hostPort[hostPort.index(after: hostPort.startIndex)..<close]
            let after = hostPort[hostPort.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let parsed = Int(after.dropFirst()) else { throw fail("has a bad port") }
                port = parsed
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = hostPort[..<colon]
            guard let parsed = Int(hostPort[hostPort.index(after: colon)...]) else {
                throw fail("has a port that is not a number")
            }
            port = parsed
        }
        guard (1...65535).contains(port) else { throw fail("has a port outside 1...65535") }
        guard let hostName = percentDecoded(host), !hostName.isEmpty else { throw fail("has no host") }
        var tls = PostgresLocation.TLSMode.disable
        for pair in queryText.split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, parts[0] == "sslmode", let mode = PostgresLocation.TLSMode(rawValue: parts[1])
            else {
                throw fail("has an unsupported option \"\(pair.prefix(60))\" (only sslmode=disable|prefer|require)")
            }
            tls = mode
        }
        return PostgresLocation(
            host: hostName,
            port: port,
            user: userName,
            password: decodedPassword,
            database: database,
            tls: tls
        )
    }

    /// Decodes `%XX` escapes; nil when one is malformed or the result is not UTF-8.
    private static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next(), let low = iterator.next(),
                    let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
                else { return nil }
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        guard !bytes.contains(0) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }

    /// The ledger flexd uses without `--ledger`: `ledger.sqlite` in its data folder.
    public static func defaultLocation(dataDirectory: String) -> LedgerLocation {
        .sqlite(path: dataDirectory.hasSuffix("/") ? dataDirectory + "ledger.sqlite" : dataDirectory + "/ledger.sqlite")
    }

    /// flexd's data folder: `$FLEXD_DATA_DIR`, else `$XDG_DATA_HOME/flexd`, else
    /// `$HOME/.local/share/flexd`, else `./flexd-data`.
    public static func defaultDataDirectory(environment: [String: String]) -> String {
        if let explicit = environment["FLEXD_DATA_DIR"], !explicit.isEmpty { return explicit }
        if let xdg = environment["XDG_DATA_HOME"], !xdg.isEmpty { return xdg + "/flexd" }
        if let home = environment["HOME"], !home.isEmpty { return home + "/.local/share/flexd" }
        return "flexd-data"
    }

    /// `sqlite:PATH` or `postgres://USER@HOST:PORT/DATABASE` (the password, if any, as `***`).
    public var description: String {
        switch self {
        case .sqlite(let path):
            return "sqlite:\(path)"
        case .postgres(let location):
            let host = location.host.contains(":") ? "[\(location.host)]" : location.host
            let password = location.password == nil ? "" : ":***"
            let tls = location.tls == .disable ? "" : "?sslmode=\(location.tls.rawValue)"
            return "postgres://\(location.user)\(password)@\(host):\(location.port)/\(location.database)\(tls)"
        }
    }
}
