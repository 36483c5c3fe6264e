import FlexCodec
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Resolves an endpoint's host name to every address it has (getaddrinfo, on NIO's blocking-I/O
/// thread pool), or takes an IP address as it is.
enum EndpointResolver {
    /// The address of `endpoint` when its host is an IPv4 or IPv6 address; nil for a name.
    static func literal(_ endpoint: FlexClient.Endpoint) -> SocketAddress? {
        try? SocketAddress(ipAddress: endpoint.host, port: endpoint.port)
    }

    /// Every TCP address `endpoint`'s host name resolves to, in the resolver's order, without
    /// duplicates. Fails with UNAVAILABLE `resolution_failed`.
    static func resolve(_ endpoint: FlexClient.Endpoint, on loop: any EventLoop) -> EventLoopFuture<[SocketAddress]> {
        NIOThreadPool.singleton.runIfActive(eventLoop: loop) {
            try Self.getaddrinfo(endpoint)
        }
    }

    private static func getaddrinfo(_ endpoint: FlexClient.Endpoint) throws -> [SocketAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        hints.ai_flags = AI_ADDRCONFIG
        var result: UnsafeMutablePointer<addrinfo>?
        let status = Glibc.getaddrinfo(endpoint.host, String(endpoint.port), &hints, &result)
        guard status == 0, let first = result else {
            let reason = status == 0 ? "no address" : String(cString: gai_strerror(status))
            throw FlexClientError.local(
                .unavailable,
                FlexClientError.LocalReason.resolutionFailed,
                "cannot resolve \(endpoint.host): \(reason)",
                isSafeToRetry: true
            )
        }
        defer { freeaddrinfo(first) }
        var addresses: [SocketAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            cursor = info.pointee.ai_next
            guard let raw = info.pointee.ai_addr else { continue }
            let address: SocketAddress
            switch info.pointee.ai_family {
            case AF_INET:
                address = raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                    SocketAddress($0.pointee, host: endpoint.host)
                }
            case AF_INET6:
                address = raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    SocketAddress($0.pointee, host: endpoint.host)
                }
            default:
                continue
            }
            if !addresses.contains(address) { addresses.append(address) }
        }
        guard !addresses.isEmpty else {
            throw FlexClientError.local(
                .unavailable,
                FlexClientError.LocalReason.resolutionFailed,
                "\(endpoint.host) resolves to no TCP address",
                isSafeToRetry: true
            )
        }
        return addresses
    }
}
