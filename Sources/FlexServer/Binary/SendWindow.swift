/// The send window of one stream's MESSAGE frames (PROTOCOL.md, section 6): a sender may send while
/// the window is positive and subtracts each frame's length (it may go negative); the peer's
/// WINDOW_UPDATEs add credit.
///
/// A value the connection's handler owns, on its event loop: no lock.
struct SendWindow: Sendable, Hashable {
    private(set) var available: Int

    struct Overflow: Error {}

    init(initial: Int) {
        self.available = initial
    }

    /// Whether a frame may be sent now.
    var isOpen: Bool { self.available > 0 }

    /// Takes `size` bytes for a frame being sent. Only while ``isOpen``.
    mutating func take(_ size: Int) {
        assert(self.isOpen, "a MESSAGE sent without window")
        self.available -= size
    }

    /// Adds credit from a WINDOW_UPDATE. Throws ``Overflow`` when the window would pass 2^31 - 1
    /// (a connection error, `flow_control_error`).
    mutating func credit(_ increment: UInt32) throws(Overflow) {
        let (sum, overflow) = self.available.addingReportingOverflow(Int(increment))
        guard !overflow, sum <= Int(Int32.max) else { throw Overflow() }
        self.available = sum
    }
}
