/// Which part of the ledger a report covers.
public struct ReportQuery: Sendable, Hashable {
    /// One UTC month, or every month.
    public var month: BillingMonth?
    /// One tenant, or every tenant.
    public var tenant: String?

    public init(month: BillingMonth? = nil, tenant: String? = nil) {
        self.month = month
        self.tenant = tenant
    }
}
