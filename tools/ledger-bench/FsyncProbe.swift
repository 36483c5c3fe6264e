import FlexCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Times `write(4 KiB)` + `fdatasync` in a folder: the floor under one durable commit.
enum FsyncProbe {
    /// The median of 200 rounds, in microseconds (0 when the probe file cannot be written).
    static func median(in folder: String, rounds: Int = 200) -> Double {
        let path = folder + "/.fsync-probe-\(getpid())"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { return 0 }
        defer {
            close(fd)
            unlink(path)
        }
        let block = [UInt8](repeating: 0x5a, count: 4096)
        var samples: [Double] = []
        for _ in 0..<rounds {
            let began = ContinuousClock.now
            _ = block.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
            fdatasync(fd)
            let elapsed = ContinuousClock.now - began
            samples.append(elapsed.seconds * 1e6)
        }
        return samples.sorted()[samples.count / 2]
    }
}
