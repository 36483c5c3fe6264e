internal import Crypto
public import FlexCodec
internal import Foundation

/// The tenants a server accepts, from a keys file, and the check of a call's flexd API key.
///
/// Keys are stored as SHA-256 hashes (they are long random tokens, so a fast hash is enough) and
/// compared in constant time against every tenant, so neither the key nor which tenant matched
/// leaks through timing. Without a keys file the directory is *open*: every call is the
/// `Tenant.anonymous` tenant, and the server refuses to listen on anything but loopback.
///
/// Keys file (JSON):
///
/// ```json
/// {"tenants": [
///   {"id": "acme", "api_key_sha256": "9f86d081884c7d65...", "provider_keys": {"openai": "sk-..."}}
/// ]}
/// ```
///
/// `flexd keys new --tenant acme` prints a new key and the line to add.
public struct TenantDirectory: Sendable {
    private struct Entry: Sendable {
        var tenant: Tenant
        var hash: [UInt8]
    }

    private let entries: [Entry]
    /// True when every call is accepted as the anonymous tenant.
    public let isOpen: Bool

    /// The open directory: no keys, one anonymous tenant.
    public static let open = TenantDirectory(entries: [], isOpen: true)

    private init(entries: [Entry], isOpen: Bool) {
        self.entries = entries
        self.isOpen = isOpen
    }

    public struct LoadError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Reads a keys file; every problem is reported with the path and the entry at fault.
    public init(keysFile path: String) throws(LoadError) {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw LoadError(description: "cannot read keys file \(path): \(error.localizedDescription)")
        }
        struct File: Decodable {
            struct Tenant: Decodable {
                var id: String
                var api_key_sha256: String
                var provider_keys: [String: String]?
            }
            var tenants: [Tenant]
        }
        let file: File
        do {
            file = try JSONDecoder().decode(File.self, from: data)
        } catch {
            throw LoadError(description: "keys file \(path) is not valid: \(error)")
        }
        var entries: [Entry] = []
        var seen: Set<String> = []
        for (index, tenant) in file.tenants.enumerated() {
            guard !tenant.id.isEmpty, tenant.id.count <= 128 else {
                throw LoadError(description: "keys file \(path): tenants[\(index)].id must be 1...128 characters")
            }
            guard seen.insert(tenant.id).inserted else {
                throw LoadError(description: "keys file \(path): tenant \(tenant.id) appears twice")
            }
            guard let hash = Self.hex(tenant.api_key_sha256), hash.count == 32 else {
                throw LoadError(
                    description: "keys file \(path): tenants[\(index)].api_key_sha256 must be 64 hex digits"
                )
            }
            var providerKeys: [Provider: Secret] = [:]
            for (name, key) in tenant.provider_keys ?? [:] {
                guard let provider = Provider(name: name) else {
                    throw LoadError(
                        description: "keys file \(path): tenant \(tenant.id) has a key for unknown provider \(name)"
                    )
                }
                providerKeys[provider] = Secret(key)
            }
            entries.append(Entry(tenant: Tenant(id: tenant.id, providerKeys: providerKeys), hash: hash))
        }
        guard !entries.isEmpty else {
            throw LoadError(description: "keys file \(path) lists no tenants")
        }
        self.init(entries: entries, isOpen: false)
    }

    /// A directory from tenants and their keys (tests, embedding).
    public init(tenants: [(Tenant, apiKey: Secret)]) {
        self.init(entries: tenants.map { Entry(tenant: $0.0, hash: Self.sha256($0.apiKey.value)) }, isOpen: false)
    }

    /// The tenant whose key this is, or nil. Runs in time independent of which tenant (if any)
    /// matches.
    public func authenticate(_ apiKey: Secret) -> Tenant? {
        if self.isOpen { return .anonymous }
        let presented = Self.sha256(apiKey.value)
        var match: Tenant?
        for entry in self.entries {
            var difference: UInt8 = 0
            for (a, b) in zip(presented, entry.hash) { difference |= a ^ b }
            if difference == 0 { match = entry.tenant }
        }
        return apiKey.isEmpty ? nil : match
    }

    /// The SHA-256 of a key, as the keys file stores it.
    public static func hashHex(_ apiKey: String) -> String {
        Self.sha256(apiKey).map { String(format: "%02x", $0) }.joined()
    }

    static func sha256(_ text: String) -> [UInt8] {
        Array(SHA256.hash(data: Array(text.utf8)))
    }

    private static func hex(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = Self.nibble(digits[index]), let low = Self.nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
