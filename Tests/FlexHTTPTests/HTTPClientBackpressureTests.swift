import FlexHTTP
import NIOCore
import Testing

/// A slow consumer pauses the transfer, so the server's writes stall on TCP flow control and memory
/// stays bounded whatever the server sends.
@Suite(.serialized) struct HTTPClientBackpressureTests {
    /// Also across libcurl receive buffer sizes: the smallest it accepts, the default, and libcurl's own
    /// (one at a time: the test measures the process's memory).
    @Test(.serialized, arguments: [1024, HTTPClient.Configuration.defaults.receiveBufferSize, 16 * 1024])
    func slowConsumerThrottlesTheServerAndStillGetsEveryByte(receiveBufferSize: Int) async throws {
        var configuration = HTTPClient.Configuration.defaults
        configuration.bodyBuffering = .init(highWatermark: 64 * 1024, lowWatermark: 16 * 1024)
        configuration.receiveBufferSize = receiveBufferSize
        let total = 64 << 20
        try await withTestServer(measuresMemory: true) { server in
            try await withTestClient(configuration: configuration) { client in
                let residentBefore = residentSetSize()
                let response = try await client.execute(HTTPClientRequest(url: server.baseURL + "/huge?bytes=\(total)"))
                var iterator = response.body.makeAsyncIterator()
                var received = try await iterator.next()?.readableBytes ?? 0

                // Stop reading and wait until the server cannot write any more (its count stops
                // moving). Unthrottled, libcurl would pull all 64 MiB over loopback meanwhile.
                var lastWritten = -1
                var stableRounds = 0
                for _ in 0..<200 where stableRounds < 5 {
                    try await Task.sleep(for: .milliseconds(50))
                    let written = server.stats.bytesWrittenToSockets
                    stableRounds = written == lastWritten ? stableRounds + 1 : 0
                    lastWritten = written
                }
                #expect(stableRounds >= 5, "the server never stopped writing")
                // What is in flight: the client's 64 KiB buffer, socket buffers (a few MiB on
                // loopback) and NIO's outbound buffer.
                #expect(lastWritten < 16 << 20, "the server wrote \(lastWritten) bytes to a paused client")
                let residentPaused = residentSetSize()
                if !isAddressSanitizerActive {
                    #expect(residentPaused - residentBefore < 48 << 20)
                }

                // Reading again resumes the transfer to the last byte.
                while let chunk = try await iterator.next() {
                    received += chunk.readableBytes
                }
                #expect(received == total)
                #expect(await eventually { server.stats.bytesWrittenToSockets >= total })
            }
        }
    }

    @Test func manySlowConsumersStayBounded() async throws {
        var configuration = HTTPClient.Configuration.defaults
        configuration.bodyBuffering = .init(highWatermark: 32 * 1024, lowWatermark: 8 * 1024)
        try await withTestServer { server in
            try await withTestClient(configuration: configuration) { client in
                var responses: [HTTPClientResponse] = []
                for _ in 0..<20 {
                    let response = try await client.execute(
                        HTTPClientRequest(url: server.baseURL + "/huge?bytes=\(64 << 20)")
                    )
                    responses.append(response)
                }
                // Nobody reads: wait for the server to stall on all 20.
                var lastWritten = -1
                var stableRounds = 0
                for _ in 0..<200 where stableRounds < 5 {
                    try await Task.sleep(for: .milliseconds(50))
                    let written = server.stats.bytesWrittenToSockets
                    stableRounds = written == lastWritten ? stableRounds + 1 : 0
                    lastWritten = written
                }
                #expect(stableRounds >= 5)
                // 20 × 64 MiB = 1.25 GiB offered; only buffers' worth may have left the server.
                #expect(lastWritten < 20 * (16 << 20), "the server wrote \(lastWritten) bytes to paused clients")
                responses.removeAll()
                #expect(await eventually { client.liveEasyHandleCount == 0 })
            }
        }
    }
}
