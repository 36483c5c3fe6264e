import FlexTestSupport
import NIOCore
import Synchronization
import Testing

@testable import FlexServer

#if canImport(Glibc)
import Glibc
#endif

/// How a listener hands its accepted connections to the server's task (``AcceptedConnections``),
/// over real loopback sockets.
@Suite("AcceptedConnections")
struct AcceptedConnectionsTests {
    /// A connection whose initializer's channel is kept, to be closed by the test.
    struct Accepted: Sendable {
        let number: Int
        let channel: any Channel
    }

    static func listen(
        _ make: @escaping @Sendable (any Channel) throws -> Accepted
    ) async throws -> (any Channel, AcceptedConnections<Accepted>, Int) {
        let (listener, accepted) = try await AcceptedConnections.listen(host: "127.0.0.1", port: 0, make: make)
        return (listener, accepted, try #require(listener.localAddress?.port))
    }

    @Test func connectionsArriveInOrderAndEndWhenTheListenerCloses() async throws {
        let count = Mutex(0)
        let (listener, accepted, port) = try await Self.listen { channel in
            let number = count.withLock { count in
                count += 1
                return count
            }
            return Accepted(number: number, channel: channel)
        }
        var sockets: [Int32] = []
        var numbers: [Int] = []
        var iterator = accepted.connections.makeAsyncIterator()
        for _ in 0..<3 {
            sockets.append(try TestSocket.connect(port: port))
            let connection = try #require(await iterator.next())
            numbers.append(connection.number)
            connection.channel.close(promise: nil)
        }
        #expect(numbers == [1, 2, 3])
        try await listener.close()
        #expect(await iterator.next() == nil)
        for socket in sockets { close(socket) }
    }

    @Test func aConnectionWhoseInitializerFailsIsClosed() async throws {
        struct Refused: Error {}
        let (listener, accepted, port) = try await Self.listen { _ in throw Refused() }
        let client = try RawHTTPConnection(port: port)
        try await client.waitUntilClosed(timeout: .seconds(10))
        try await listener.close()
        for await _ in accepted.connections { Issue.record("a refused connection was handed over") }
    }

    @Test func nothingIsHandedOverOnceTheListenerHasClosed() async throws {
        let (listener, accepted, _) = try await Self.listen { Accepted(number: 0, channel: $0) }
        try await listener.close()
        // Its close future's callbacks run in order: the one `listen` added has run.
        try await listener.closeFuture.get()
        #expect(throws: AcceptedConnections<Accepted>.ListenerClosed.self) {
            try accepted.hand(Accepted(number: 1, channel: listener))
        }
    }
}
