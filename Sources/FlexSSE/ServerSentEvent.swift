/// One event dispatched by ``SSEParser``, in the shape the WHATWG HTML standard's "dispatch the event"
/// step gives it.
public struct ServerSentEvent: Sendable, Hashable {
    /// The event type: the value of the block's last `event:` field, or `"message"` when the block had
    /// none (or an empty one).
    public var event: String

    /// The values of the block's `data:` fields joined with `"\n"`.
    public var data: String

    /// The last event ID when the event was dispatched, or `nil` when it is empty.
    ///
    /// As in the standard, an `id:` field sets the ID for this and every later event until another
    /// `id:` field changes it; `id:` with an empty value clears it.
    public var id: String?

    /// Creates an event.
    public init(event: String = "message", data: String, id: String? = nil) {
        self.event = event
        self.data = data
        self.id = id
    }
}
