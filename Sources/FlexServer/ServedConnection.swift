internal import NIOCore

/// A connection the server runs in a task of its own (a binary-protocol or an HTTP door
/// connection): its task ends once the connection has closed and its calls have ended.
protocol ServedConnection: Sendable {
    var channel: any Channel { get }
    func run(_ shared: ServerShared) async
}

extension ServerConnection: ServedConnection {}
extension HTTPDoorConnection: ServedConnection {}
