import Testing

@testable import FlexCodec

@Suite("Handshake")
struct HandshakeTests {
    @Test func serverPicksTheHighestSharedVersionAndTheClientsPreferredCompression() throws {
        let client = Hello(
            versions: [1, 2, 3],
            compression: [.lz4],
            limits: Limits(maxMessageSize: 1 << 20),
            agent: "c"
        )
        let (reply, negotiated) = try Handshake.answer(client, versions: [1, 2], agent: "flexd/0.1")
        #expect(reply.versions == [2])
        #expect(reply.compression == [.lz4])
        #expect(reply.agent == "flexd/0.1")
        #expect(negotiated.compression == .lz4)
        #expect(negotiated.peerLimits.maxMessageSize == 1 << 20)
        #expect(negotiated.peerLimits.maxConcurrentStreams == ProtocolDefaults.maxConcurrentStreams)
        let clientSide = try Handshake.accept(reply, offered: client)
        #expect(clientSide.version == 2)
        #expect(clientSide.compression == .lz4)
        #expect(clientSide.peerLimits == ResolvedLimits.defaults)
        #expect(clientSide.localLimits.maxMessageSize == 1 << 20)
    }

    @Test func noCompressionWhenEitherSideLacksIt() throws {
        #expect(try Handshake.answer(Hello(versions: [1])).negotiated.compression == .none)
        #expect(try Handshake.answer(Hello(versions: [1], compression: [.none])).hello.compression == [])
        #expect(
            try Handshake.answer(Hello(versions: [1], compression: [.lz4]), compression: []).negotiated.compression
                == .none
        )
    }

    @Test func noSharedVersionFails() throws {
        let error = try #require(throws: FlexCodecError.self) { try Handshake.answer(Hello(versions: [7, 8])) }
        #expect(error.code == .unsupportedVersion)
        #expect(error.statusCode == .unimplemented)
        #expect(throws: FlexCodecError.self) { try Handshake.answer(Hello(versions: [])) }
    }

    @Test func limitsOutOfBoundsFail() throws {
        for limits in [
            Limits(maxMessageSize: 1024), Limits(maxMessageSize: 128 * 1024 * 1024),
            Limits(initialWindowSize: 0x8000_0000),
        ] {
            let error = try #require(throws: FlexCodecError.self) {
                try Handshake.answer(Hello(versions: [1], limits: limits))
            }
            #expect(error.code == .invalidLimits)
        }
    }

    @Test func clientRejectsAnswersItDidNotOffer() throws {
        let offered = Hello(versions: [1], compression: [])
        #expect(throws: FlexCodecError.self) { try Handshake.accept(Hello(versions: [2]), offered: offered) }
        #expect(throws: FlexCodecError.self) { try Handshake.accept(Hello(versions: [1, 1]), offered: offered) }
        #expect(throws: FlexCodecError.self) {
            try Handshake.accept(Hello(versions: [1], compression: [.lz4]), offered: offered)
        }
        #expect(try Handshake.accept(Hello(versions: [1]), offered: offered).compression == .none)
    }

    @Test func streamIDsIncreaseAndRunOut() {
        var generator = StreamIDGenerator()
        #expect(generator.nextID() == 1)
        #expect(generator.nextID() == 2)
        var almostDone = StreamIDGenerator(next: 0x7FFF_FFFE)
        #expect(almostDone.nextID() == StreamID(0x7FFF_FFFE))
        #expect(almostDone.nextID() == .max)
        #expect(almostDone.nextID() == nil)
        #expect(almostDone.nextID() == nil)
    }
}

@Suite("Secrets never print")
struct SecretTests {
    @Test func keysAreRedactedEverywhere() {
        let request = Fixtures.nativeRequest
        let headers = Fixtures.requestHeaders
        var dumped = ""
        dump(request, to: &dumped)
        dump(headers, to: &dumped)
        for text in ["\(request)", String(reflecting: request), "\(headers)", String(reflecting: headers), dumped] {
            #expect(!text.contains("sk-test-not-a-real-key"))
            #expect(!text.contains("fxk_test_tenant_key"))
            #expect(text.contains("<redacted>"))
        }
        #expect(request.providerKey.value == "sk-test-not-a-real-key")
        #expect(Secret("").description == "<none>")
    }

    @Test func errorsNeverCarryPayloadBytes() throws {
        var request = Fixtures.nativeRequest
        request.model = "m\u{0}"
        let error = try #require(throws: FlexCodecError.self) { try MessageCoder().encode(request) }
        #expect(!error.description.contains("sk-test"))
        #expect(!error.message.contains("m\u{0}"))
    }
}
