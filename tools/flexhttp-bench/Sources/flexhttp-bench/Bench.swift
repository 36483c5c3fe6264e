import Foundation

/// `flexhttp-bench run [--seconds S] [--rounds R] [--concurrency 1,16,256] [--url URL]`
/// `flexhttp-bench server [--port P] [--threads T]`
///
/// `run` starts the server as a child process (unless `--url` names one), then measures both clients
/// at each concurrency: `rounds` rounds, alternating which client goes first, each preceded by a
/// warm-up. It prints a Markdown table with the median round of each (by requests per second): requests
/// per second, p50 and p99 latency in milliseconds, and the client process's CPU time (user + system)
/// per request.
@main
struct Bench {
    static func main() async throws {
        var arguments = Array(CommandLine.arguments.dropFirst())
        let command = arguments.isEmpty ? "run" : arguments.removeFirst()
        func option(_ name: String) -> String? {
            guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else {
                return nil
            }
            return arguments[index + 1]
        }
        switch command {
        case "server":
            try await BenchServer.run(
                port: Int(option("--port") ?? "0") ?? 0,
                threads: Int(option("--threads") ?? "1") ?? 1
            )
        case "run":
            let seconds = Double(option("--seconds") ?? "5") ?? 5
            let rounds = Int(option("--rounds") ?? "3") ?? 3
            let concurrencies = (option("--concurrency") ?? "1,16,256").split(separator: ",").compactMap { Int($0) }
            let only = option("--only")
            var server: Process?
            let url: String
            if let given = option("--url") {
                url = given
            } else {
                let (process, port) = try startServer(threads: Int(option("--server-threads") ?? "1") ?? 1)
                server = process
                url = "http://127.0.0.1:\(port)/v1/chat/completions"
            }
            defer {
                if let server {
                    kill(server.processIdentifier, SIGKILL)
                    server.waitUntilExit()
                }
            }
            try await runBenchmark(url: url, seconds: seconds, rounds: rounds, concurrencies: concurrencies, only: only)
        default:
            print("usage: flexhttp-bench run|server [options]")
            exit(2)
        }
    }

    static func startServer(threads: Int) throws -> (Process, Int) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        process.arguments = ["server", "--port", "0", "--threads", "\(threads)"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let byte = pipe.fileHandleForReading.readData(ofLength: 1)
            guard !byte.isEmpty else {
                throw BenchFailure(message: "server exited before listening")
            }
            line.append(byte)
        }
        let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix("listening "), let port = Int(text.dropFirst("listening ".count)) else {
            throw BenchFailure(message: "unexpected server output: \(text)")
        }
        return (process, port)
    }

    static func runBenchmark(
        url: String,
        seconds: Double,
        rounds: Int,
        concurrencies: [Int],
        only: String?
    ) async throws {
        var clients: [any BenchClient] = []
        if only == nil || only == "flexhttp" {
            clients.append(try FlexHTTPBenchClient(url: url))
        }
        if only == nil || only == "ahc" {
            clients.append(AsyncHTTPClientBenchClient(url: url))
        }
        print("| concurrency | client | req/s | p50 ms | p99 ms | client CPU µs/req | errors |")
        print("|---:|---|---:|---:|---:|---:|---:|")
        for concurrency in concurrencies {
            var byClient: [String: [Measurement]] = [:]
            for round in 0..<rounds {
                let ordered = round % 2 == 0 ? clients : clients.reversed()
                for client in ordered {
                    _ = await measure(client, concurrency: concurrency, seconds: min(1, seconds / 5))
                    let measurement = await measure(client, concurrency: concurrency, seconds: seconds)
                    byClient[client.name, default: []].append(measurement)
                }
            }
            for client in clients {
                let runs = byClient[client.name]!.sorted { $0.requestsPerSecond < $1.requestsPerSecond }
                let median = runs[runs.count / 2]
                print(
                    "| \(concurrency) | \(client.name) | \(Int(median.requestsPerSecond.rounded())) | "
                        + String(
                            format: "%.3f | %.3f | %.1f",
                            median.percentile(0.50),
                            median.percentile(0.99),
                            median.cpuMicrosecondsPerRequest
                        )
                        + " | \(runs.map(\.errors).reduce(0, +)) |"
                )
                fflush(nil)
            }
        }
        for client in clients {
            try await client.shutdown()
        }
    }
}

struct BenchFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { self.message }
}
