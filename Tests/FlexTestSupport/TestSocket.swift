#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP socket to a loopback port, for tests that must write exactly the bytes they mean
/// (or misbehave). `struct sockaddr_in` is laid out by hand (family, port and address in network
/// order, zero padding): its fields are declared by whichever C module the build loaded first,
/// Glibc or SwiftNIO's CNIOLinux, so naming them depends on the build's order.
public enum TestSocket {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// A connected socket (TCP_NODELAY); the caller closes it.
    public static func connect(port: Int) throws(Failure) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket() failed") }
        let address: [UInt8] =
            withUnsafeBytes(of: UInt16(AF_INET), Array.init)
            + withUnsafeBytes(of: UInt16(port).bigEndian, Array.init) + [127, 0, 0, 1] + [UInt8](repeating: 0, count: 8)
        let result = address.withUnsafeBytes { bytes in
            Glibc.connect(fd, bytes.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(bytes.count))
        }
        guard result == 0 else {
            close(fd)
            throw Failure(description: "connect to port \(port) failed: errno \(errno)")
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return fd
    }

    /// Writes every byte.
    public static func send(_ fd: Int32, _ bytes: [UInt8]) throws(Failure) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard sent > 0 else { throw Failure(description: "send failed: errno \(errno)") }
            offset += sent
        }
    }

    /// What the peer sent that is ready now (empty: nothing yet), or nil once it has closed.
    ///
    /// It never blocks: a blocked thread would starve Swift's cooperative pool (two threads here),
    /// on which the server under test runs too.
    public static func receiveAvailable(_ fd: Int32) -> [UInt8]? {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, 0) > 0 else { return [] }
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let count = recv(fd, &chunk, chunk.count, 0)
        return count <= 0 ? nil : Array(chunk[0..<count])
    }
}
