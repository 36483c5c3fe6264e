import FlexCodec
import FlexHTTP
import FlexTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// flexd in front of an upstream like the real providers': HTTPS with HTTP/2, here HAProxy
/// terminating TLS with a certificate from a test CA (made by `openssl`) in front of flexsim.
/// `--upstream-ca-file` makes flexd trust that CA; without it the same calls fail, because peers
/// are always verified. `--upstream-http-version 1.1` keeps the calls on HTTP/1.1.
@Suite("flexd with a TLS upstream", .serialized)
struct UpstreamTLSTests {
    /// A test CA and a server certificate for 127.0.0.1 and localhost, signed by it.
    struct Certificates {
        let ca: String
        /// The server's certificate and key in one PEM file, as HAProxy's `crt` takes them.
        let server: String

        init(in directory: URL) throws {
            func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
            let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
            try Self.openssl(
                ["req", "-x509"] + ec + [
                    "-keyout", path("ca.key"), "-out", path("ca.pem"), "-days", "2", "-subj", "/CN=flexd test CA",
                ]
            )
            try Self.openssl(
                ["req"] + ec + [
                    "-keyout", path("server.key"), "-out", path("server.csr"), "-subj", "/CN=localhost",
                ]
            )
            try "subjectAltName=DNS:localhost,IP:127.0.0.1\n".write(
                toFile: path("server.ext"),
                atomically: true,
                encoding: .utf8
            )
            try Self.openssl([
                "x509", "-req", "-in", path("server.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"),
                "-CAcreateserial", "-out", path("server.crt"), "-days", "2", "-extfile", path("server.ext"),
            ])
            let pem =
                try String(contentsOfFile: path("server.crt"), encoding: .utf8)
                + String(contentsOfFile: path("server.key"), encoding: .utf8)
            try pem.write(toFile: path("server.pem"), atomically: true, encoding: .utf8)
            self.ca = path("ca.pem")
            self.server = path("server.pem")
        }

        static func openssl(_ arguments: [String]) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            process.arguments = arguments
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw ExecutableFailure(description: "openssl \(arguments.joined(separator: " ")) failed")
            }
        }
    }

    struct ExecutableFailure: Error, CustomStringConvertible {
        var description: String
    }

    /// HAProxy's configuration: TLS with ALPN h2 and http/1.1 on `port`, HTTP/1.1 to flexsim, one
    /// log line per request on stdout, which names the protocol version the client spoke and the
    /// call's request ID (flexd's correlation header, in braces).
    static func haproxyConfiguration(port: Int, certificate: String, simPort: Int) -> String {
        """
        global
            log stdout format raw local0
        defaults
            mode http
            log global
            option httplog
            timeout connect 5s
            timeout client 60s
            timeout server 60s
        frontend tls
            bind 127.0.0.1:\(port) ssl crt \(certificate) alpn h2,http/1.1
            capture request header x-flexsim-correlation-id len 64
            default_backend flexsim
        backend flexsim
            server flexsim 127.0.0.1:\(simPort)

        """
    }

    @Test func theUpstreamCAFileLetsFlexdCallAnHTTPSUpstreamOverHTTP2OrHTTP11() async throws {
        let haproxy = "/usr/sbin/haproxy"
        guard access(haproxy, X_OK) == 0 else {
            Issue.record("\(haproxy) is missing: run tools/bootstrap (Debian package haproxy)")
            return
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "flexd-tls-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let certificates = try Certificates(in: directory)

        let simLog = directory.appendingPathComponent("flexsim.log").path
        let (flexsim, simPort, _) = try await Executables.startListening {
            let port = Executables.freePort()
            let process = try ChildProcess(
                executable: try Executables.path("flexsim"),
                arguments: ["--listen", "127.0.0.1:\(port)", "--profile", "instant"],
                outputPath: simLog
            )
            return (process, port, simLog, ())
        }
        defer { flexsim.stop() }

        let proxyLog = directory.appendingPathComponent("haproxy.log").path
        let (proxy, proxyPort, _) = try await Executables.startListening {
            let port = Executables.freePort()
            let configuration = directory.appendingPathComponent("haproxy.cfg").path
            try Self.haproxyConfiguration(port: port, certificate: certificates.server, simPort: simPort)
                .write(toFile: configuration, atomically: true, encoding: .utf8)
            let process = try ChildProcess(
                executable: haproxy,
                arguments: ["-db", "-f", configuration],
                outputPath: proxyLog
            )
            return (process, port, proxyLog, ())
        }
        defer { proxy.stop() }

        /// A flexd whose three providers are behind the proxy, with `extra` arguments; the status
        /// of one unary and one streamed Chat Completions call through it.
        func calls(_ name: String, _ extra: [String]) async throws -> [(StatusCode, String)] {
            let root = "https://127.0.0.1:\(proxyPort)"
            let log = directory.appendingPathComponent("\(name).log").path
            let (flexd, port, _) = try await Executables.startListening {
                let port = Executables.freePort()
                let process = try ChildProcess(
                    executable: try Executables.path("flexd"),
                    arguments: [
                        "serve", "--listen", "127.0.0.1:\(port)", "--admin-listen", "off", "--http-listen", "off",
                        "--log-level", "notice", "--ledger", "none",
                    ] + Executables.flexsimUpstream(root) + extra,
                    outputPath: log
                )
                return (process, port, log, ())
            }
            defer { flexd.stop() }
            let (client, _) = try await WireClient.connected(port: port)
            var statuses: [(StatusCode, String)] = []
            for (index, stream) in [false, true].enumerated() {
                let id = StreamID(UInt32(2 * index + 1))
                try client.call(
                    id,
                    FlexdProcessTests.request(.chatCompletions, id: "\(name)-\(index)", startWithin: "00h-00m-30s"),
                    method: stream ? RequestHeaders.Method.stream : RequestHeaders.Method.complete
                )
                let trailers = try #require(try await client.readCall(id).trailers, "\(name), stream \(stream)")
                statuses.append((trailers.status.code, trailers.status.errorCode))
            }
            return statuses
        }

        /// The proxy's log lines for the calls of run `name`, found by their request IDs.
        func proxyLines(_ name: String) -> [Substring] {
            ((try? String(contentsOfFile: proxyLog, encoding: .utf8)) ?? "").split(separator: "\n")
                .filter { $0.contains("{\(name)-") && $0.contains("/openai/v1/chat/completions") }
        }

        let trusted = try await calls("trusted", ["--upstream-ca-file", certificates.ca])
        #expect(trusted.allSatisfy { $0.0 == .ok }, "\(trusted)")
        let trustedLines = proxyLines("trusted")
        #expect(
            trustedLines.count >= 2 && trustedLines.allSatisfy { $0.contains(" HTTP/2.0\"") },
            "flexd negotiates HTTP/2 through ALPN: \(trustedLines)"
        )

        // `--upstream-http-version 1.1`: the same calls, over HTTP/1.1 although the proxy offers h2.
        let http1 = try await calls(
            "http1",
            ["--upstream-ca-file", certificates.ca, "--upstream-http-version", "1.1"]
        )
        #expect(http1.allSatisfy { $0.0 == .ok }, "\(http1)")
        let http1Lines = proxyLines("http1")
        #expect(
            http1Lines.count >= 2 && http1Lines.allSatisfy { $0.contains(" HTTP/1.1\"") },
            "--upstream-http-version 1.1 keeps to HTTP/1.1: \(http1Lines)"
        )

        // On a libcurl that resets every streamed answer's HTTP/2 stream, flexd says so at start, and
        // only where it may speak HTTP/2 (Configuration, "HTTP/2 upstreams and libcurl 7.88").
        func warnsOfResets(_ name: String) -> Bool {
            let log =
                (try? String(contentsOfFile: directory.appendingPathComponent("\(name).log").path, encoding: .utf8))
            return log?.contains("libcurl before 8.1 over HTTP/2") == true
        }
        #expect(warnsOfResets("trusted") == HTTPClient.hasLegacyHTTP2)
        #expect(!warnsOfResets("http1"))

        let untrusted = try await calls("untrusted", [])
        #expect(
            untrusted.allSatisfy { $0.0 != .ok && $0.1 == "upstream_unreachable" },
            "the test CA is not in the system store: \(untrusted)"
        )
    }
}
