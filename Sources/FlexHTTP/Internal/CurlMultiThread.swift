internal import Atomics
internal import CCurl
internal import Logging
internal import NIOConcurrencyHelpers
internal import Synchronization

#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#endif

/// The dedicated thread that runs one libcurl multi handle with `curl_multi_socket_action` over an
/// epoll set, and the command queue other threads use to talk to it.
///
/// libcurl handles are not thread-safe: one thread at a time may drive the multi handle and the easy
/// handles in it, and that thread is whichever holds `driver`. The curl thread holds it whenever it
/// is not inside `epoll_wait`. A caller that starts a transfer takes it too when it is free
/// (`start(_:)`), adds the handle and lets libcurl send the request right away, on its own thread,
/// so the curl thread is not woken to do it. If that made the curl thread's next look at libcurl's
/// timers or a deadline due sooner than it planned, the caller sets a timerfd in the epoll set for
/// that time rather than waking the thread now (libcurl arms a timer of several seconds for every
/// new transfer, which the answer usually makes moot). Everything else (abort, resume, shut down, and a
/// start that finds `driver` taken) is appended to the command queue under `shared`'s lock, and the
/// curl thread is woken through an eventfd that is part of the epoll set (written only when no
/// wake-up is pending, so a burst of commands costs one write).
///
/// Each loop iteration: run queued commands, wait in `epoll_wait` until a socket is ready, libcurl's
/// next timeout (`curl_multi_timeout`) is due, a FlexHTTP deadline is due or a command arrives; hand
/// ready sockets and the due timer to `curl_multi_socket_action`; read completed transfers
/// (`curl_multi_info_read`); fail transfers whose head, idle or total deadline passed.
///
/// `@unchecked Sendable`. Who touches what:
/// - `shared` (the command queue and lifecycle): any thread, under its lock.
/// - `liveEasyHandles`: atomic, any thread.
/// - `configuration`, `logger`, `epollFD`, `eventFD`, `timerFD`: immutable after `init` (the
///   timerfd is set by whoever holds `driver`).
/// - everything else (`multi`, `active`, `curlTimerDeadline`, `nextDeadlineCheck`, `sleepingUntil`,
///   `events`, `spareCommands`): the thread holding `driver`. `init` sets them up before the thread
///   starts (`pthread_create` orders those writes before the thread's reads). Lock order: `driver`,
///   then a transfer's lock, then `shared`; nothing takes `driver` while holding either of the others.
final class CurlMultiThread: @unchecked Sendable {
    enum Command {
        /// Add the transfer's easy handle to the multi handle.
        case start(Transfer)
        /// Remove the transfer's easy handle (the consumer cancelled).
        case cancel(Transfer)
        /// Unpause the transfer (the consumer drained its buffer).
        case resume(Transfer)
        /// Give the transfer a new idle timeout, in nanoseconds (0: none).
        case setIdleTimeout(Transfer, UInt64)
        /// Fail every transfer with ``HTTPClientError/Code/shutdown`` and end the thread.
        case shutdown
    }

    private enum Lifecycle {
        case running
        case shuttingDown
        case stopped
    }

    private struct Shared {
        var commands: [Command] = []
        var wakeupPending = false
        var lifecycle = Lifecycle.running
        var shutdownWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let shared = NIOLockedValueBox(Shared())

    /// Held by the thread driving libcurl (see the type's documentation).
    private let driver = Mutex(())

    /// Easy handles created and not yet cleaned up, for tests and metrics.
    let liveEasyHandles = ManagedAtomic<Int>(0)

    private let logger: Logger
    private let epollFD: Int32
    private let eventFD: Int32
    private let timerFD: Int32

    // The driver's (the thread holding `driver`).
    private let multi: UnsafeMutableRawPointer
    private var active: [Transfer] = []
    private var curlTimerDeadline: UInt64?
    private var nextDeadlineCheck = UInt64.max
    /// When the curl thread's `epoll_wait` returns by itself (`UInt64.max`: only for a socket or a
    /// command); 0 while it is awake.
    private var sleepingUntil: UInt64 = 0
    private var spareCommands: [Command] = []
    private let events: UnsafeMutablePointer<epoll_event>
    private static let eventCapacity = 256

    /// Creates the multi handle and starts the thread.
    init(configuration: HTTPClient.Configuration, logger: Logger) throws(HTTPClientError) {
        guard CurlGlobal.initializeOnce() else {
            throw HTTPClientError(code: .internalError, message: "curl_global_init failed")
        }
        self.logger = logger

        let epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epollFD >= 0 else {
            throw HTTPClientError(code: .internalError, message: "epoll_create1 failed: errno \(errno)")
        }
        let eventFD = eventfd(0, Int32(EFD_CLOEXEC) | Int32(EFD_NONBLOCK))
        guard eventFD >= 0 else {
            close(epollFD)
            throw HTTPClientError(code: .internalError, message: "eventfd failed: errno \(errno)")
        }
        let timerFD = timerfd_create(CLOCK_MONOTONIC, Int32(TFD_CLOEXEC) | Int32(TFD_NONBLOCK))
        guard timerFD >= 0 else {
            close(epollFD)
            close(eventFD)
            throw HTTPClientError(code: .internalError, message: "timerfd_create failed: errno \(errno)")
        }
        guard let multi = curl_multi_init() else {
            close(epollFD)
            close(eventFD)
            close(timerFD)
            throw HTTPClientError(code: .internalError, message: "curl_multi_init failed")
        }
        self.epollFD = epollFD
        self.eventFD = eventFD
        self.timerFD = timerFD
        self.multi = multi
        self.events = .allocate(capacity: Self.eventCapacity)

        var event = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(fd: eventFD))
        epoll_ctl(epollFD, EPOLL_CTL_ADD, eventFD, &event)
        var timerEvent = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(fd: timerFD))
        epoll_ctl(epollFD, EPOLL_CTL_ADD, timerFD, &timerEvent)

        let opaqueSelf = Unmanaged.passUnretained(self).toOpaque()
        let pool = configuration.connectionPool
        CCurl_multi_setopt_socket_callback(multi, CURLMOPT_SOCKETFUNCTION, curlSocketCallback)
        CCurl_multi_setopt_ptr(multi, CURLMOPT_SOCKETDATA, opaqueSelf)
        CCurl_multi_setopt_long(multi, CURLMOPT_PIPELINING, Int(CURLPIPE_MULTIPLEX))
        CCurl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, max(1, pool.maximumConnectionsPerHost))
        CCurl_multi_setopt_long(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, max(0, pool.maximumTotalConnections ?? 0))
        CCurl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, max(1, pool.maximumIdleConnections))
        CCurl_multi_setopt_long(multi, CURLMOPT_MAX_CONCURRENT_STREAMS, max(1, pool.maximumConcurrentStreams))

        try self.startThread()
    }

    deinit {
        self.events.deallocate()
    }

    // MARK: - Any thread

    /// Starts `transfer`: right here if no other thread is driving libcurl, else through the command
    /// queue. Returns `false` (and does nothing) once the thread is shutting down.
    ///
    /// Starting here lets libcurl send the request on the caller's thread, without waking the curl
    /// thread, which then only has to wake for the response. Callbacks of this and other transfers
    /// may run inside this call. The caller must not hold a transfer's lock.
    func start(_ transfer: Transfer) -> Bool {
        let started: Bool? = self.driver.withLockIfAvailable { _ in
            let isRunning = self.shared.withLockedValue { shared in
                if case .running = shared.lifecycle {
                    return true
                }
                return false
            }
            guard isRunning else {
                return false
            }
            self.add(transfer)
            var running: Int32 = 0
            curl_multi_socket_action(self.multi, CCurl_SOCKET_TIMEOUT, 0, &running)
            self.readCompletions()
            // The curl thread sleeps until its own idea of the next timer or deadline, rounded up to
            // epoll's millisecond. If this call made that more than a millisecond late (a new,
            // earlier libcurl timeout or transfer deadline), set the timerfd for the new time: the
            // thread wakes then, not now.
            if self.sleepingUntil != 0 {
                let deadline = self.nextWakeDeadline(now: MonotonicClock.now())
                if deadline &+ 1_000_000 < self.sleepingUntil {
                    self.setTimer(at: deadline)
                }
            }
            return true
        }
        return started ?? self.enqueue(.start(transfer))
    }

    /// Queues a command and wakes the curl thread. Returns `false` (and drops the command) once the
    /// thread is shutting down.
    @discardableResult
    func enqueue(_ command: Command) -> Bool {
        let wake: Bool? = self.shared.withLockedValue { shared in
            guard case .running = shared.lifecycle else {
                return nil
            }
            shared.commands.append(command)
            if case .shutdown = command {
                shared.lifecycle = .shuttingDown
            }
            if shared.wakeupPending {
                return false
            }
            shared.wakeupPending = true
            return true
        }
        if wake == true {
            var one: UInt64 = 1
            _ = write(self.eventFD, &one, MemoryLayout<UInt64>.size)
        }
        return wake != nil
    }

    /// Makes the timerfd readable at `deadline` (on `MonotonicClock`; a time already past fires at
    /// once), replacing the time it was set for. The driver's.
    private func setTimer(at deadline: UInt64) {
        // An all-zero it_value would disarm the timer: a deadline of 0 becomes 1 ns, long past.
        let nanoseconds = max(deadline, 1)
        var spec = itimerspec()
        spec.it_value.tv_sec = Int(nanoseconds / 1_000_000_000)
        spec.it_value.tv_nsec = Int(nanoseconds % 1_000_000_000)
        _ = timerfd_settime(self.timerFD, Int32(TFD_TIMER_ABSTIME), &spec, nil)
    }

    /// Asks the thread to fail every transfer and stop, and waits until it has.
    func shutdown() async {
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let stopped = self.shared.withLockedValue { shared in
                if case .stopped = shared.lifecycle {
                    return true
                }
                shared.shutdownWaiters.append(waiter)
                return false
            }
            if stopped {
                waiter.resume()
            } else {
                self.enqueue(.shutdown)
            }
        }
    }

    /// Starts shutting down without waiting (e.g. from `HTTPClient.deinit`).
    func initiateShutdown() {
        self.enqueue(.shutdown)
    }

    // MARK: - Curl thread (and the driver)

    private func startThread() throws(HTTPClientError) {
        var thread = pthread_t()
        let retained = Unmanaged.passRetained(self).toOpaque()
        let result = pthread_create(
            &thread,
            nil,
            { argument in
                let multiThread = Unmanaged<CurlMultiThread>.fromOpaque(argument!).takeRetainedValue()
                // Named for profilers and `top -H`; otherwise it inherits its creator's name.
                _ = CCurl_name_this_thread("FlexHTTP-curl")
                multiThread.run()
                return nil
            },
            retained
        )
        guard result == 0 else {
            Unmanaged<CurlMultiThread>.fromOpaque(retained).release()
            curl_multi_cleanup(self.multi)
            close(self.epollFD)
            close(self.eventFD)
            close(self.timerFD)
            throw HTTPClientError(code: .internalError, message: "pthread_create failed: \(result)")
        }
        pthread_detach(thread)
    }

    private func run() {
        self.logger.debug("FlexHTTP curl thread started")
        var timeout = self.driver.withLock { _ in self.runCommands() ? self.prepareToSleep() : nil }
        while let milliseconds = timeout {
            let count = epoll_wait(self.epollFD, self.events, Int32(Self.eventCapacity), milliseconds)
            // Read before taking the lock, which may make system calls of its own.
            let error = count < 0 ? errno : 0
            timeout = self.driver.withLock { _ in
                self.sleepingUntil = 0
                self.drive(readyCount: count, error: error)
                return self.runCommands() ? self.prepareToSleep() : nil
            }
        }
        self.driver.withLock { _ in self.teardown() }
    }

    /// Hands what `epoll_wait` reported, and libcurl's timer if due, to libcurl; then finishes
    /// completed transfers and fails those past a deadline.
    private func drive(readyCount count: Int32, error: Int32) {
        if count < 0, error != EINTR {
            self.logger.error("epoll_wait failed", metadata: ["errno": "\(error)"])
        }
        for index in 0..<Int(max(0, count)) {
            let event = self.events[index]
            let fd = event.data.fd
            if fd == self.eventFD || fd == self.timerFD {
                var value: UInt64 = 0
                _ = read(fd, &value, MemoryLayout<UInt64>.size)
                continue
            }
            var mask: Int32 = 0
            if event.events & (EPOLLIN.rawValue | EPOLLHUP.rawValue) != 0 {
                mask |= CURL_CSELECT_IN
            }
            if event.events & EPOLLOUT.rawValue != 0 {
                mask |= CURL_CSELECT_OUT
            }
            if event.events & EPOLLERR.rawValue != 0 {
                mask |= CURL_CSELECT_ERR
            }
            var running: Int32 = 0
            curl_multi_socket_action(self.multi, fd, mask, &running)
        }
        if let deadline = self.curlTimerDeadline, MonotonicClock.now() >= deadline {
            self.curlTimerDeadline = nil
            var running: Int32 = 0
            curl_multi_socket_action(self.multi, CCurl_SOCKET_TIMEOUT, 0, &running)
        }
        self.readCompletions()
        self.checkDeadlines()
    }

    /// Runs the queued commands. Returns `false` when the thread must stop.
    private func runCommands() -> Bool {
        // Two arrays take turns as the queue, so that draining it allocates nothing: the spare is
        // moved out (not copied, which would make the producers' next append copy on write).
        var commands: [Command] = []
        swap(&commands, &self.spareCommands)
        self.shared.withLockedValue { shared in
            swap(&commands, &shared.commands)
            shared.wakeupPending = false
        }
        var keepRunning = true
        for command in commands {
            switch command {
            case .start(let transfer):
                if keepRunning {
                    self.add(transfer)
                } else {
                    transfer.curlCompleted(.failure(.shutdown))
                    transfer.cleanupEasyHandle()
                }
            case .cancel(let transfer):
                if transfer.curlIsInMulti {
                    self.remove(transfer)
                    transfer.cleanupEasyHandle()
                }
            case .resume(let transfer):
                transfer.curlResume()
            case .setIdleTimeout(let transfer, let nanoseconds):
                transfer.curlSetIdleTimeout(nanoseconds)
            case .shutdown:
                keepRunning = false
                self.failAll(.shutdown)
            }
        }
        commands.removeAll(keepingCapacity: true)
        self.spareCommands = commands
        return keepRunning
    }

    private func add(_ transfer: Transfer) {
        guard transfer.curlWillAdd(), let easy = transfer.easy else {
            // Cancelled while queued.
            transfer.cleanupEasyHandle()
            return
        }
        let code = curl_multi_add_handle(self.multi, easy)
        guard code == CURLM_OK else {
            let message = String(cString: curl_multi_strerror(code))
            transfer.curlCompleted(
                .failure(HTTPClientError(code: .internalError, message: "curl_multi_add_handle failed: \(message)"))
            )
            transfer.cleanupEasyHandle()
            return
        }
        transfer.curlIsInMulti = true
        transfer.curlActiveIndex = self.active.count
        self.active.append(transfer)
        self.noteDeadline(transfer.curlNextDeadline)
    }

    /// Removes the easy handle from the multi handle and from the active list (driver). The caller
    /// then cleans it up.
    private func remove(_ transfer: Transfer) {
        guard transfer.curlIsInMulti, let easy = transfer.easy else {
            return
        }
        transfer.curlWillRemove()
        curl_multi_remove_handle(self.multi, easy)
        transfer.curlIsInMulti = false
        let index = transfer.curlActiveIndex
        let last = self.active.removeLast()
        if index < self.active.count {
            self.active[index] = last
            last.curlActiveIndex = index
        }
        transfer.curlActiveIndex = -1
    }

    private func readCompletions() {
        var remaining: Int32 = 0
        while let message = curl_multi_info_read(self.multi, &remaining) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else {
                continue
            }
            // Read everything before removing the handle: that invalidates the message.
            let code = message.pointee.data.result
            var pointer: UnsafeMutableRawPointer?
            CCurl_easy_getinfo_ptr(easy, CURLINFO_PRIVATE, &pointer)
            guard let pointer else {
                continue
            }
            let transfer = Unmanaged<Transfer>.fromOpaque(pointer).takeUnretainedValue()
            let result: Result<Void, HTTPClientError> =
                code == CURLE_OK ? .success(()) : .failure(transfer.curlError(for: code))
            self.remove(transfer)
            transfer.curlCompleted(result)
            transfer.cleanupEasyHandle()
        }
    }

    /// Called when a transfer arms a deadline that may be earlier than the next planned check.
    func noteDeadline(_ deadline: UInt64) {
        if deadline < self.nextDeadlineCheck {
            self.nextDeadlineCheck = deadline
        }
    }

    /// Fails the transfers whose deadline has passed. Runs only when the earliest known deadline is
    /// due; deadlines that moved later since are skipped and the next check is recomputed.
    private func checkDeadlines() {
        let now = MonotonicClock.now()
        guard now >= self.nextDeadlineCheck else {
            return
        }
        var next = UInt64.max
        var index = 0
        while index < self.active.count {
            let transfer = self.active[index]
            if let error = transfer.curlExpiredDeadline(now: now) {
                // `remove` moves the last transfer into this slot: look at the same index again.
                self.remove(transfer)
                transfer.curlCompleted(.failure(error))
                transfer.cleanupEasyHandle()
                continue
            }
            next = min(next, transfer.curlNextDeadline)
            index += 1
        }
        self.nextDeadlineCheck = next
    }

    private func failAll(_ error: HTTPClientError) {
        while let transfer = self.active.last {
            self.remove(transfer)
            transfer.curlCompleted(.failure(error))
            transfer.cleanupEasyHandle()
        }
    }

    /// Milliseconds for `epoll_wait`: until libcurl's next timeout or the next FlexHTTP deadline,
    /// rounded up; -1 to wait for sockets or commands only. Records the wake-up time in
    /// `sleepingUntil` for `start(_:)`.
    private func prepareToSleep() -> Int32 {
        let now = MonotonicClock.now()
        let deadline = self.nextWakeDeadline(now: now)
        if deadline == .max {
            self.sleepingUntil = .max
            return -1
        }
        if deadline <= now {
            self.sleepingUntil = now
            return 0
        }
        let milliseconds = (deadline - now + 999_999) / 1_000_000
        self.sleepingUntil = now &+ milliseconds &* 1_000_000
        return Int32(clamping: milliseconds)
    }

    /// When the driver must next call libcurl's timer or check deadlines (`UInt64.max`: never).
    ///
    /// libcurl's timeout is asked for each time, rather than tracked through
    /// `CURLMOPT_TIMERFUNCTION`: that callback only fires when the timeout *changes*, and libcurl
    /// reports whole milliseconds rounded down, so a timer that fires a fraction of a millisecond
    /// early finds nothing due, leaves libcurl's timeout unchanged and is never re-armed: the
    /// transfer then stalls until some socket activity. `curl_multi_timeout` cannot go stale.
    private func nextWakeDeadline(now: UInt64) -> UInt64 {
        var curlMilliseconds = -1
        curl_multi_timeout(self.multi, &curlMilliseconds)
        self.curlTimerDeadline = curlMilliseconds < 0 ? nil : now &+ UInt64(curlMilliseconds) &* 1_000_000
        return min(self.curlTimerDeadline ?? .max, self.nextDeadlineCheck)
    }

    private func teardown() {
        // Commands that raced with the shutdown command.
        var leftovers: [Command] = []
        self.shared.withLockedValue { shared in
            swap(&leftovers, &shared.commands)
        }
        for case .start(let transfer) in leftovers {
            transfer.curlCompleted(.failure(.shutdown))
            transfer.cleanupEasyHandle()
        }
        self.failAll(.shutdown)
        curl_multi_cleanup(self.multi)
        close(self.epollFD)
        close(self.eventFD)
        close(self.timerFD)
        let waiters = self.shared.withLockedValue { shared in
            shared.lifecycle = .stopped
            let waiters = shared.shutdownWaiters
            shared.shutdownWaiters = []
            return waiters
        }
        self.logger.debug("FlexHTTP curl thread stopped")
        for waiter in waiters {
            waiter.resume()
        }
    }

    // MARK: - libcurl's socket callback (the driver, inside libcurl calls)

    fileprivate func curlUpdateSocket(_ fd: curl_socket_t, what: Int32, isRegistered: Bool) {
        if what == CURL_POLL_REMOVE {
            var event = epoll_event()
            epoll_ctl(self.epollFD, EPOLL_CTL_DEL, fd, &event)
            return
        }
        var flags: UInt32 = 0
        if what & CURL_POLL_IN != 0 {
            flags |= EPOLLIN.rawValue
        }
        if what & CURL_POLL_OUT != 0 {
            flags |= EPOLLOUT.rawValue
        }
        var event = epoll_event(events: flags, data: epoll_data_t(fd: fd))
        // libcurl's per-socket pointer says whether this socket is in the epoll set; fall back on the
        // other operation in case a closed descriptor's number was reused behind libcurl's back.
        if isRegistered {
            if epoll_ctl(self.epollFD, EPOLL_CTL_MOD, fd, &event) != 0, errno == ENOENT {
                epoll_ctl(self.epollFD, EPOLL_CTL_ADD, fd, &event)
            }
        } else {
            if epoll_ctl(self.epollFD, EPOLL_CTL_ADD, fd, &event) != 0, errno == EEXIST {
                epoll_ctl(self.epollFD, EPOLL_CTL_MOD, fd, &event)
            }
            curl_multi_assign(self.multi, fd, Self.registeredMarker)
        }
    }

    /// Any non-nil pointer: libcurl stores it per socket and hands it back to the socket callback.
    private static var registeredMarker: UnsafeMutableRawPointer? { UnsafeMutableRawPointer(bitPattern: 1) }
}

private let curlSocketCallback: curl_socket_callback = { _, fd, what, userp, socketp in
    let multiThread = Unmanaged<CurlMultiThread>.fromOpaque(userp!).takeUnretainedValue()
    multiThread.curlUpdateSocket(fd, what: what, isRegistered: socketp != nil)
    return 0
}

/// `curl_global_init` must run once before any other libcurl call, before threads use libcurl.
enum CurlGlobal {
    private static let initialized: Bool = {
        curl_global_init(CCurl_GLOBAL_DEFAULT) == CURLE_OK
    }()

    /// Runs `curl_global_init` the first time; returns whether it succeeded.
    static func initializeOnce() -> Bool {
        Self.initialized
    }

    /// The version of the libcurl loaded at run time, as `0xXXYYZZ` (8.14.1 is `0x080E01`): the
    /// one the process runs with, which can differ from the headers it was built against.
    static let versionNumber: UInt32 = {
        // After curl_global_init, as libcurl asks; once (a static let), so never on two threads.
        _ = Self.initialized
        return CCurl_version_info().pointee.version_num
    }()

    /// Whether the loaded libcurl is older than 8.1, whose HTTP/2 receive path rewrote the one
    /// whose defects FlexHTTP works around (see `Transfer.http2ReceiveBufferSize`).
    static var hasLegacyHTTP2ReceivePath: Bool { Self.versionNumber < 0x08_01_00 }
}
