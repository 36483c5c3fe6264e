/// A customer of flexd: its calls are recorded and billed under ``id``.
public struct Tenant: Sendable, Hashable {
    public var id: String
    /// Provider keys flexd may use for this tenant's calls that carry none (BYOK keys win).
    public var providerKeys: [Provider: Secret]

    public init(id: String, providerKeys: [Provider: Secret] = [:]) {
        self.id = id
        self.providerKeys = providerKeys
    }

    /// The tenant of a server run without a keys file (loopback only).
    public static let anonymous = Tenant(id: "anonymous")
}
