/// Keeps a request's secrets out of messages: the values of its sensitive headers, the URL's query
/// string and userinfo, and the proxy URL's credentials.
///
/// Used only on error and logging paths, so it favours simplicity over speed.
struct Redactor: Sendable {
    private var secrets: [String]

    init(secrets: [String]) {
        // Longest first, so a secret that contains another is replaced whole.
        self.secrets = secrets.filter { !$0.isEmpty }.sorted { $0.utf8.count > $1.utf8.count }
    }

    init(url: String, headers: HTTPHeaders, proxyURL: String?) {
        var secrets = headers.filter(\.isRedacted).map(\.value)
        // "Bearer sk-..." also appears in messages as just "sk-...".
        for value in secrets {
            if let space = value.firstIndex(of: " ") {
                secrets.append(String(value[value.index(after: space)...]))
            }
        }
        secrets.append(contentsOf: URLParts(url).secrets)
        if let proxyURL {
            secrets.append(contentsOf: URLParts(proxyURL).secrets)
        }
        self.init(secrets: secrets)
    }

    func redact(_ text: String) -> String {
        var result = text
        for secret in self.secrets where result.contains(secret) {
            result = result.replacing(secret, with: "<redacted>")
        }
        return result
    }
}

/// Just enough URL splitting to log a URL without its secrets: `scheme://host[:port]/path`, with
/// userinfo, query and fragment removed.
struct URLParts: Sendable {
    var redacted: String
    /// Userinfo (`user:password`), the password alone, and the query string, when present.
    var secrets: [String]

    init(_ url: String) {
        var rest = Substring(url)
        var secrets: [String] = []
        var scheme: Substring = ""
        if let range = rest.firstRange(of: "://") {
            scheme = rest[..<range.upperBound]
            rest = rest[range.upperBound...]
        }
        // The fragment and the query are never sent to or needed in logs.
        if let hash = rest.firstIndex(of: "#") {
            rest = rest[..<hash]
        }
        if let question = rest.firstIndex(of: "?") {
            let query = rest[rest.index(after: question)...]
            if !query.isEmpty {
                secrets.append(String(query))
                // Each parameter value too, since messages may show them decoded or alone.
                for pair in query.split(separator: "&") {
                    if let equals = pair.firstIndex(of: "=") {
                        let value = pair[pair.index(after: equals)...]
                        if value.utf8.count >= 4 {
                            secrets.append(String(value))
                        }
                    }
                }
            }
            rest = rest[..<question]
        }
        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        if let at = rest[..<authorityEnd].lastIndex(of: "@") {
            let userinfo = rest[..<at]
            secrets.append(String(userinfo))
            if let colon = userinfo.firstIndex(of: ":") {
                secrets.append(String(userinfo[userinfo.index(after: colon)...]))
            }
            rest = rest[rest.index(after: at)...]
        }
        self.redacted = String(scheme) + String(rest)
        self.secrets = secrets
    }
}
