import AsyncHTTPClient
import FlexHTTP
import NIOCore
import NIOHTTP1

/// One client under test: sends the benchmark's POST and reads the whole response.
protocol BenchClient: Sendable {
    var name: String { get }
    func post() async throws
    func shutdown() async throws
}

let requestBody =
    #"{"model":"bench","messages":[{"role":"user","content":"Say ok."}],"max_tokens":1,"service_tier":"flex"}"#

final class FlexHTTPBenchClient: BenchClient {
    let name = "FlexHTTP"
    let client: FlexHTTP.HTTPClient
    let request: FlexHTTP.HTTPClientRequest

    init(url: String) throws {
        var configuration = FlexHTTP.HTTPClient.Configuration.defaults
        configuration.connectionPool.maximumConnectionsPerHost = 512
        configuration.connectionPool.maximumIdleConnections = 512
        self.client = try FlexHTTP.HTTPClient(configuration: configuration)
        var request = FlexHTTP.HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "authorization", value: "Bearer sk-bench")
        request.body = ByteBuffer(string: requestBody)
        self.request = request
    }

    func post() async throws {
        let response = try await self.client.execute(self.request)
        guard response.status == 200 else {
            throw BenchError.status(response.status)
        }
        _ = try await response.body.collect(upTo: 1 << 20)
    }

    func shutdown() async throws {
        await self.client.shutdown()
    }
}

final class AsyncHTTPClientBenchClient: BenchClient {
    let name = "AsyncHTTPClient"
    let client: AsyncHTTPClient.HTTPClient
    let url: String

    init(url: String) {
        var configuration = AsyncHTTPClient.HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 512)
        self.client = AsyncHTTPClient.HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.url = url
    }

    func post() async throws {
        var request = AsyncHTTPClient.HTTPClientRequest(url: self.url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "authorization", value: "Bearer sk-bench")
        request.body = .bytes(ByteBuffer(string: requestBody))
        let response = try await self.client.execute(request, timeout: .seconds(30))
        guard response.status == .ok else {
            throw BenchError.status(Int(response.status.code))
        }
        _ = try await response.body.collect(upTo: 1 << 20)
    }

    func shutdown() async throws {
        try await self.client.shutdown()
    }
}

enum BenchError: Error {
    case status(Int)
}
