import FlexCodec

extension FlexClient {
    /// Where a flexd instance listens: a host (a name, or an IPv4 or IPv6 address) and a port.
    ///
    /// A host name is resolved by the client, and every address it resolves to is an endpoint of
    /// its own (a DNS name with several records, such as a Kubernetes headless Service, is a
    /// fleet); see ``Configuration/resolutionInterval``.
    public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        /// Parses `HOST:PORT` (an IPv6 address in brackets: `[::1]:7400`).
        ///
        /// - Throws: ``FlexClientError`` (INVALID_ARGUMENT, `invalid_configuration`) when the text
        ///   is not of that form or the port is not 1 ... 65535.
        public init(_ text: String) throws(FlexClientError) {
            func invalid() -> FlexClientError {
                .local(
                    .invalidArgument,
                    FlexClientError.LocalReason.invalidConfiguration,
                    "an endpoint is HOST:PORT (an IPv6 address in brackets), not \"\(text.prefix(200))\""
                )
            }
            let host: Substring
            let portText: Substring
            if text.hasPrefix("[") {
                guard let close = text.firstIndex(of: "]"), text[close...].hasPrefix("]:") else { throw invalid() }
                host = text[text.index(after: text.startIndex)..<close]
                portText = text[text.index(close, offsetBy: 2)...]
            } else {
                guard let colon = text.lastIndex(of: ":") else { throw invalid() }
                host = text[..<colon]
                portText = text[text.index(after: colon)...]
            }
            guard !host.isEmpty, !host.contains(":") || text.hasPrefix("["), let port = Int(portText),
                (1...65535).contains(port)
            else { throw invalid() }
            self.init(host: String(host), port: port)
        }

        /// `HOST:PORT`, with an IPv6 address in brackets.
        public var description: String {
            self.host.contains(":") ? "[\(self.host)]:\(self.port)" : "\(self.host):\(self.port)"
        }
    }
}
