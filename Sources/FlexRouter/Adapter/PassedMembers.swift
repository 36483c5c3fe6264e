internal import FlexJSON
internal import NIOCore

/// The members of a caller's native body that the router does not read or set, as the caller's
/// bytes.
///
/// The router parses only the members an adapter reads or writes (``keptKeys``): the rest (the
/// prompt, tools, options) goes upstream byte for byte, neither built into values nor encoded
/// again, for every attempt of the call. The adapter writes its request from the kept members,
/// and ``splice(into:)`` adds these to it. The bytes are a compact copy, so that a call waiting
/// for flex does not keep the wire buffer its body arrived in.
struct PassedMembers: Sendable {
    /// The members an adapter reads or sets; every other member of a native body is passed on.
    static let keptKeys = ["model", "stream", "stream_options", "service_tier", "serviceTier"]

    /// No members (a typed request's body is built whole).
    static let none = PassedMembers(members: nil)

    /// The members, comma-separated, as the caller wrote them (whitespace between them included);
    /// nil when there are none. An array, not a `ByteBuffer`: NIO rounds a buffer's capacity up to a
    /// power of two, a third more on average for the prompt a waiting call holds.
    private let members: [UInt8]?

    private init(members: [UInt8]?) {
        self.members = members
    }

    /// The runs `ranges` of `body` (offsets into its readable bytes), joined by commas.
    init(_ ranges: [Range<Int>], of body: ByteBuffer) {
        guard !ranges.isEmpty else {
            self.init(members: nil)
            return
        }
        var members: [UInt8] = []
        members.reserveCapacity(ranges.reduce(ranges.count - 1) { $0 + $1.count })
        body.withUnsafeReadableBytes { bytes in
            for (index, range) in ranges.enumerated() {
                if index > 0 { members.append(UInt8(ascii: ",")) }
                members.append(contentsOf: bytes[range])
            }
        }
        self.init(members: members)
    }

    /// The bytes passed on, for tests and measurements.
    var byteCount: Int { self.members?.count ?? 0 }

    /// Adds these members to `object`, a JSON object an adapter encoded, after its own (in place:
    /// the adapter's buffer grows once).
    func splice(into object: inout ByteBuffer) {
        self.members?.withUnsafeBytes { JSONValue.appendMembers($0, toObjectIn: &object) }
    }

    /// The members parsed (empty when there are none): what the rare readers of the whole body
    /// (the token estimate of a call cut short) look at.
    func parsed() -> JSONObject {
        guard let members = self.members else { return JSONObject() }
        return (try? JSONParser.parse([UInt8(ascii: "{")] + members + [UInt8(ascii: "}")]))?.object ?? JSONObject()
    }
}
