/// One event dispatched by ``SSEParser``, in the shape the WHATWG HTML standard's "dispatch the event"
/// step gives it.
public struct ServerSentEvent: Sendable, Hashable {
    /// The event type: the value of the block's last `event:` field, or `"message"` when the block had
    /// none (or an empty one).
    public var event: String

    /// The values of the block's `data:` fields joined with `"\n"`, as received: what a JSON parser
    /// reads without a detour through `String`.
    public var dataBytes: [UInt8]

    /// ``dataBytes`` decoded as UTF-8, with invalid sequences replaced by U+FFFD.
    public var data: String {
        get { String(decoding: self.dataBytes, as: UTF8.self) }
        set { self.dataBytes = Array(newValue.utf8) }
    }

    /// The last event ID when the event was dispatched, or `nil` when it is empty.
    ///
    /// As in the standard, an `id:` field sets the ID for this and every later event until another
    /// `id:` field changes it; `id:` with an empty value clears it.
    public var id: String?

    /// Creates an event.
    public init(event: String = "message", data: String, id: String? = nil) {
        self.init(event: event, dataBytes: Array(data.utf8), id: id)
    }

    /// Creates an event from its data's bytes.
    public init(event: String = "message", dataBytes: [UInt8], id: String? = nil) {
        self.event = event
        self.dataBytes = dataBytes
        self.id = id
    }

    /// Events are equal when their type, ID and decoded data are: the standard's event carries text,
    /// so two invalid sequences that both decode to U+FFFD are the same data.
    public static func == (lhs: ServerSentEvent, rhs: ServerSentEvent) -> Bool {
        lhs.event == rhs.event && lhs.id == rhs.id && (lhs.dataBytes == rhs.dataBytes || lhs.data == rhs.data)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.event)
        hasher.combine(self.id)
        hasher.combine(self.data)
    }
}
