// libFuzzer target for the binary-protocol server's per-stream state (FlexServer's
// ServerConnectionHandler and ServerConnectionStateMachine, and the calls they run).
//
// Each input is a client's whole connection (ClientScript): the first byte picks how it starts and
// the client's HELLO; every later byte starts a step — a valid HEADERS, request MESSAGE (with or
// without END_STREAM, with U+0000 or a CR LF provider key), CANCEL (CANCELLED, DEADLINE_EXCEEDED),
// WINDOW_UPDATE (0 included), PING, GOAWAY or HELLO; a raw frame or raw bytes; time passing; or the
// client going away — so sequences of frames reach every stream state (open, half-closed,
// cancelled, refused, window exhausted). The server runs the pipeline flexd builds for every
// connection on an EmbeddedChannel with an in-memory service (FuzzService) whose calls answer,
// stream, fail or hang until cancelled, as the request's model says.
//
// Checked on every run: no crash; what the server writes decodes as valid frames for a client
// (ServerOutputChecker); while open, the connection holds at most its stream limit of calls and
// one frame plus one read of input; no secret reaches a log line; once the client has gone, every
// call the service started has ended, the connection's task has returned and no call slot,
// registration or deadline timer is left.

import FlexCodec
import FlexServer
import NIOCore

/// The server's limits: few streams and small messages, so that the fuzzer reaches them.
let configuration: FlexServer.Configuration = {
    var configuration = FlexServer.Configuration(
        connection: .init(
            limits: ResolvedLimits(maxMessageSize: 32 * 1024, maxConcurrentStreams: 4, initialWindowSize: 4096),
            maxPingsWithoutCalls: 8
        ),
        maxCallsInFlight: 6,
        handshakeTimeout: .milliseconds(500),
        idleTimeout: .milliseconds(1500)
    )
    configuration.maxCallDuration = .seconds(60)
    return configuration
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzServerStreams(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    var input = FuzzInput(UnsafeRawBufferPointer(start: start, count: count))
    var script = ClientScript(&input)
    let run: ConnectionRun
    do {
        run = try ConnectionRun(configuration: configuration, clientMaxMessageSize: script.announcedMaxMessageSize)
    } catch {
        fatalError("cannot set up the embedded connection: \(error)")
    }
    run.deliver(script.opening())
    var pending = ByteBuffer()
    var steps = 0
    while run.isOpen, steps < 200, let step = script.next(&input) {
        steps += 1
        switch step {
        case .send(var bytes, let deliver):
            pending.writeBuffer(&bytes)
            if deliver {
                run.deliver(pending)
                pending.clear()
            }
        case .advanceTime:
            run.advanceTime()
        case .disconnect:
            run.deliver(pending)
            pending.clear()
            run.disconnect()
        }
    }
    run.deliver(pending)
    run.finish()
    return 0
}
