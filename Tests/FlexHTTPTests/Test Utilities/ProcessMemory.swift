#if canImport(Glibc)
import Glibc
#endif

/// The process's resident set size in bytes, from /proc/self/statm (second field, in pages).
func residentSetSize() -> Int {
    let fd = open("/proc/self/statm", O_RDONLY)
    guard fd >= 0 else {
        return 0
    }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 128)
    let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    guard count > 0 else {
        return 0
    }
    let fields = String(decoding: buffer[0..<count], as: UTF8.self).split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else {
        return 0
    }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// Whether this process runs under AddressSanitizer (its runtime exports `__asan_init`).
let isAddressSanitizerActive: Bool = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__asan_init") != nil
