internal import Dispatch
internal import Synchronization

#if canImport(CGlibcMalloc)
internal import CGlibcMalloc
internal import Glibc
#endif

/// glibc's malloc arenas for the server: two, unless `MALLOC_ARENA_MAX` says otherwise.
///
/// glibc gives threads that allocate at the same time arenas of their own, up to eight per core,
/// and memory freed into an arena is reused only by allocations from it. flexd's event loops,
/// libcurl's thread and the cooperative pool all allocate for every call, so with glibc's default
/// the memory of many waiting calls spreads over many arenas: 10,000 calls waiting for flex peak
/// at ~390 MiB of RSS with the default and ~350 MiB with two, with no measurable cost in latency
/// (tools/bench/RESULTS.md, "concurrency" and "overhead").
///
/// glibc also keeps what it frees: after thousands of short connections (each leaves its buffers
/// spread over the heap) RSS stays ~25 MiB up though the heap in use is back where it was. The server
/// calls ``releaseFreeMemory()`` after every 256 closed connections, which hands that memory back.
enum MallocArenas {
    static let serverDefault: Int32 = 2
    private static let releasing = Atomic<Bool>(false)

    /// Gives malloc's free memory back to the system (`malloc_trim`), on a Dispatch worker: a trim
    /// walks every arena under its lock, which must not happen on an event loop. At most one runs.
    @Sendable static func releaseFreeMemory() {
        #if canImport(CGlibcMalloc)
        guard !Self.releasing.exchange(true, ordering: .acquiring) else { return }
        DispatchQueue.global(qos: .utility).async {
            _ = CGlibcMalloc_trim()
            Self.releasing.store(false, ordering: .releasing)
        }
        #endif
    }

    /// Caps the arenas; call it before the server's threads start. The environment variable, which
    /// glibc reads itself, wins.
    static func configure() {
        #if canImport(CGlibcMalloc)
        if getenv("MALLOC_ARENA_MAX") == nil {
            _ = CGlibcMalloc_limitArenas(Self.serverDefault)
        }
        #endif
    }
}
