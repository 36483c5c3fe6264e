import FlexTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `Executables.startListening`, which the process tests start flexd and flexsim with: a port lost
/// between picking and binding is retried on another, any other early exit fails at once.
@Suite("Test support: a child that listens")
struct ListeningChildTests {
    @Test func aChildThatLostItsPortIsStartedAgainOnAnother() async throws {
        let (holder, held) = try Self.boundSocket()
        defer { close(holder) }
        let (flexsim, port, tried) = try await Self.startFlexsim(firstOn: held, name: "lost")
        defer { flexsim.stop() }
        #expect(tried.count == 2)
        #expect(tried.first == held)
        #expect(port == tried.last && port != held)
        #expect(try LoopbackHTTP.send(port: port, method: "GET", path: "/healthz").status == 200)
    }

    /// Another test's server on the port: connections to it are accepted, but not by the child, which
    /// could not bind. The wait does not take that server for the child (CI once did, and two tests
    /// talked to each other's processes); the child is started again on another port.
    @Test func aPortThatAnotherServerListensOnIsNotTakenForTheChilds() async throws {
        let (holder, held) = try Self.boundSocket()
        defer { close(holder) }
        try #require(listen(holder, 16) == 0)
        #expect(Executables.acceptsConnections(port: held))
        #expect(Executables.holdsListeningSocket(pid: getpid(), port: held))
        let (flexsim, port, tried) = try await Self.startFlexsim(firstOn: held, name: "taken")
        defer { flexsim.stop() }
        #expect(tried.count == 2)
        #expect(port == tried.last && port != held)
        #expect(Executables.holdsListeningSocket(pid: flexsim.pid, port: port))
        #expect(!Executables.holdsListeningSocket(pid: flexsim.pid, port: held))
        #expect(try LoopbackHTTP.send(port: port, method: "GET", path: "/healthz").status == 200)
    }

    /// flexsim started with `startListening`, its first attempt on port `held` (taken), the next
    /// ones on free ports; the ports tried.
    static func startFlexsim(firstOn held: Int, name: String) async throws -> (ChildProcess, Int, [Int]) {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent(
            "listening-child-\(getpid())-\(name).log"
        )
        .path
        defer { unlink(log) }
        var tried: [Int] = []
        let (flexsim, port, _) = try await Executables.startListening {
            let port = tried.isEmpty ? held : Executables.freePort()
            tried.append(port)
            let process = try ChildProcess(
                executable: try Executables.path("flexsim"),
                arguments: ["--listen", "127.0.0.1:\(port)", "--profile", "instant"],
                outputPath: log
            )
            return (process, port, log, ())
        }
        return (flexsim, port, tried)
    }

    @Test func aChildThatFailsForAnotherReasonEndsTheWaitWithItsOutput() async throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("listening-child-\(getpid())-2.log")
            .path
        defer { unlink(log) }
        var attempts = 0
        // A wait that missed the exit would end at its 30 s bound with a different error.
        do {
            _ = try await Executables.startListening {
                attempts += 1
                let port = Executables.freePort()
                let process = try ChildProcess(
                    executable: try Executables.path("flexsim"),
                    arguments: ["--listen", "127.0.0.1:\(port)", "--profile", "no-such-profile"],
                    outputPath: log
                )
                return (process, port, log, ())
            }
            Issue.record("flexsim with an unknown profile was reported listening")
        } catch let error as Executables.ExitedBeforeListening {
            #expect(!error.lostItsPort)
            #expect(error.output.contains("no-such-profile"), "\(error.output)")
        }
        #expect(attempts == 1)
    }

    /// A loopback socket bound to a port of the kernel's choice, like a client connection's: it
    /// takes the port from a listener (no `SO_REUSEADDR` here) without accepting connections, so
    /// only the child's exit can tell that it lost its port.
    static func boundSocket() throws -> (Int32, Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        try #require(bound)
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }
}
