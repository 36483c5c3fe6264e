#if canImport(Glibc)
public import Glibc
#endif

/// A child process started with `posix_spawn`, with its output in a file, that is always reaped.
///
/// Not Foundation's `Process`: its `isRunning` lagged seconds behind the child's exit here, and a
/// child inheriting a blocked SIGTERM would ignore `terminate()` (platform-notes). The child gets
/// an empty signal mask and default SIGTERM/SIGINT handling; ``stop()`` sends SIGTERM, waits a
/// short grace, then SIGKILLs, and always `waitpid`s.
public final class ChildProcess: @unchecked Sendable {
    // `pid` is immutable; `exited` is only touched by `isRunning`/`stop()`, which tests call from one
    // task at a time.
    public let pid: pid_t
    private var exited = false

    public struct SpawnError: Error, CustomStringConvertible {
        public var description: String
    }

    /// `environment` adds to (or replaces in) the test process's environment, for this child only.
    public init(executable: String, arguments: [String], outputPath: String, environment: [String: String] = [:]) throws
    {
        var fileActions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        posix_spawn_file_actions_addopen(&fileActions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&fileActions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&fileActions, 1, 2)
        // Nothing else of the test process leaks into the child: libcurl's sockets are not
        // close-on-exec, and a child holding other tests' connections open skews what they see
        // (and a listening socket it inherited would pass for its own in `holdsListeningSocket`).
        guard let closeFrom = Self.addCloseFrom else {
            throw SpawnError(description: "posix_spawn_file_actions_addclosefrom_np (glibc 2.34+) is missing")
        }
        _ = closeFrom(&fileActions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGTERM)
        sigaddset(&defaults, SIGINT)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var envp: [UnsafeMutablePointer<CChar>?] = []
        var inherited: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = environ
        while let position = inherited, let entry = position.pointee {
            let name = String(cString: entry).prefix { $0 != "=" }
            if environment[String(name)] == nil { envp.append(strdup(entry)) }
            inherited = position + 1
        }
        envp += environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for entry in envp { free(entry) } }
        var pid = pid_t()
        let result = posix_spawn(&pid, executable, &fileActions, &attributes, argv, envp)
        guard result == 0 else {
            throw SpawnError(description: "posix_spawn \(executable) failed: \(String(cString: strerror(result)))")
        }
        self.pid = pid
    }

    deinit {
        self.stop()
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), looked up at run time: Swift's
    /// Glibc module does not declare it.
    private static let addCloseFrom:
        (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
            else { return nil }
            return unsafeBitCast(
                symbol,
                to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self
            )
        }()

    /// Whether the child is still running (reaps it if it has exited).
    public var isRunning: Bool {
        if self.exited {
            return false
        }
        var status: Int32 = 0
        if waitpid(self.pid, &status, WNOHANG) == self.pid {
            self.exited = true
        }
        return !self.exited
    }

    /// Waits for the child to exit by itself; returns its exit status (-1 if killed by a signal).
    public func waitForExit() -> Int32 {
        var status: Int32 = 0
        while waitpid(self.pid, &status, 0) == -1, errno == EINTR {}
        self.exited = true
        // WIFEXITED / WEXITSTATUS, which Swift does not import.
        return status & 0x7F == 0 ? (status >> 8) & 0xFF : -1
    }

    /// SIGTERM, up to `grace` for the child to exit, then SIGKILL; the child is reaped either way.
    public func stop(grace: Duration = .seconds(2)) {
        guard self.isRunning else {
            return
        }
        kill(self.pid, SIGTERM)
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: grace)
        while clock.now < deadline {
            if !self.isRunning {
                return
            }
            usleep(10_000)
        }
        kill(self.pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(self.pid, &status, 0) == -1, errno == EINTR {}
        self.exited = true
    }

    /// Sends `signal` (e.g. SIGTERM) without waiting.
    public func send(_ signal: Int32) {
        kill(self.pid, signal)
    }

    /// Waits for the process to exit without blocking a thread (tests share a small cooperative
    /// pool), at most `timeout`; returns its exit status (-1 if killed by a signal), or nil if it is
    /// still running.
    public func exitStatus(within timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            var status: Int32 = 0
            if waitpid(self.pid, &status, WNOHANG) == self.pid {
                self.exited = true
                return status & 0x7F == 0 ? (status >> 8) & 0xFF : -1
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }
}

/// The project's executables, found next to the test binary (`swift build --build-tests` builds
/// them) or through an environment variable (`FLEXD_BIN`, `FLEXSIM_BIN`, ...).
public enum Executables {
    /// `flexd serve`'s flags that send every provider to the flexsim at `root`
    /// (`http://127.0.0.1:PORT`); with `correlate`, also flexsim's correlation header, so that its
    /// ledger names each call's request id.
    public static func flexsimUpstream(_ root: String, correlate: Bool = true) -> [String] {
        [
            "--openai-base-url", root + "/openai/v1", "--anthropic-base-url", root + "/anthropic/v1",
            "--gemini-base-url", root + "/gemini/v1beta",
        ] + (correlate ? ["--correlation-header", "x-flexsim-correlation-id"] : [])
    }

    public struct NotFound: Error, CustomStringConvertible {
        public var description: String
    }

    public static func path(_ name: String) throws -> String {
        if let path = getenv(name.uppercased() + "_BIN").map({ String(cString: $0) }) { return path }
        var directory = CommandLine.arguments[0]
        for _ in 0..<4 {
            directory = String(directory[..<(directory.lastIndex(of: "/") ?? directory.startIndex)])
            let candidate = directory + "/" + name
            if access(candidate, X_OK) == 0 { return candidate }
        }
        throw NotFound(
            description: "\(name) not found next to the test binary; build it or set \(name.uppercased())_BIN"
        )
    }

    /// A TCP port that was free a moment ago on loopback (bind to 0, read it, close).
    public static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length)
                return getsockname(fd, pointer, &length)
            }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// A child that exited before it listened; `output` is the end of what it printed.
    public struct ExitedBeforeListening: Error, CustomStringConvertible {
        public let port: Int
        public let output: String

        /// It could not bind: another socket took a port between ``freePort()`` and the child's bind.
        public var lostItsPort: Bool { self.output.contains("Address already in use") }

        public var description: String {
            "the process exited before it listened on port \(self.port); it printed: \(self.output)"
        }
    }

    /// Starts a child that listens on loopback ports picked with ``freePort()``, and waits until it
    /// accepts connections on `port`. `start` picks the ports, spawns the child and says where its
    /// output goes; `extra` carries anything else it picked (another port, say). A port is only
    /// free until someone binds it, and parallel tests open sockets all the time: a child that
    /// exits because its address is in use is started again on new ports, up to `attempts` times.
    /// A child that exits for any other reason fails at once, with the end of its output.
    ///
    /// `alsoOn` names, from `extra`, the other ports the child must listen on before it counts as
    /// started (an admin port, say): a child that lost one of them exits too, and is started again.
    public static func startListening<Extra>(
        attempts: Int = 3,
        alsoOn otherPorts: (Extra) -> [Int] = { _ in [] },
        _ start: () throws -> (process: ChildProcess, port: Int, outputPath: String, extra: Extra)
    ) async throws -> (process: ChildProcess, port: Int, extra: Extra) {
        var attempt = 1
        while true {
            let started = try start()
            do {
                for port in [started.port] + otherPorts(started.extra) {
                    try await Self.waitUntilListening(port, process: started.process, outputPath: started.outputPath)
                }
                return (started.process, started.port, started.extra)
            } catch let error as ExitedBeforeListening where error.lostItsPort && attempt < attempts {
                attempt += 1
            }
        }
    }

    /// Waits until something accepts TCP connections on `port` (bounded). With `process`, the wait
    /// ends only when that child holds a socket listening on `port` (a connection accepted by
    /// someone else's socket does not count), and a child that exits first ends it with
    /// ``ExitedBeforeListening`` and the end of `outputPath`.
    ///
    /// Why the owner matters: parallel tests bind ports all the time, and one that takes the
    /// child's port between ``freePort()`` and the child's bind would otherwise be taken for the
    /// child — its connections then reach another test's server, and both tests fail (CI did).
    public static func waitUntilListening(
        _ port: Int,
        process: ChildProcess? = nil,
        outputPath: String? = nil,
        timeout: Duration = .seconds(30)
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let process {
                if Self.holdsListeningSocket(pid: process.pid, port: port) { return }
                if !process.isRunning {
                    throw ExitedBeforeListening(port: port, output: outputPath.map { Self.tail(of: $0) } ?? "")
                }
            } else if Self.acceptsConnections(port: port) {
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw NotFound(description: "nothing listens on port \(port) after \(timeout)")
    }

    /// Whether a connection to 127.0.0.1:`port` is accepted.
    public static func acceptsConnections(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return connected == 0
    }

    /// Whether process `pid` has a TCP socket in the LISTEN state on `port` (any address): the
    /// inodes of listening sockets on that port from `/proc/net/tcp` and `tcp6`, matched against
    /// the `socket:[inode]` links in `/proc/<pid>/fd`.
    public static func holdsListeningSocket(pid: pid_t, port: Int) -> Bool {
        var inodes: Set<Substring> = []
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
            for line in Self.contents(of: table).split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count > 9, fields[3] == "0A", let colon = fields[1].lastIndex(of: ":"),
                    Int(fields[1][fields[1].index(after: colon)...], radix: 16) == port
                else { continue }
                inodes.insert(fields[9])
            }
        }
        guard !inodes.isEmpty, let directory = opendir("/proc/\(pid)/fd") else { return false }
        defer { closedir(directory) }
        var link = [CChar](repeating: 0, count: 64)
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            let length = readlink("/proc/\(pid)/fd/\(name)", &link, link.count - 1)
            guard length > 0 else { continue }
            let target = String(decoding: link.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if target.hasPrefix("socket:["), target.hasSuffix("]"),
                inodes.contains(target.dropFirst("socket:[".count).dropLast())
            {
                return true
            }
        }
        return false
    }

    /// A whole file as text, "" if it cannot be read. POSIX reads: they work for `/proc` files,
    /// whose size `lseek` does not tell, and Foundation's file reading leaked buffers under LSan.
    public static func contents(of path: String) -> String {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            bytes += chunk.prefix(count)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The last `count` bytes of a file, as text ("" if it cannot be read).
    static func tail(of path: String, count: Int = 2_000) -> String {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            return ""
        }
        defer { close(fd) }
        let size = lseek(fd, 0, SEEK_END)
        let start = max(0, size - off_t(count))
        guard size > 0, lseek(fd, start, SEEK_SET) == start else {
            return ""
        }
        var bytes = [UInt8](repeating: 0, count: Int(size - start))
        let read = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        return String(decoding: bytes.prefix(max(0, read)), as: UTF8.self)
    }
}
