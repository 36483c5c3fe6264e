import FlexCatalog
import FlexCore
import FlexJSON
import FlexSim
import NIOCore
import Testing

@testable import FlexRouter

/// Google answers a Gemini key it does not know with HTTP 400 `INVALID_ARGUMENT` and an ErrorInfo
/// whose reason is `API_KEY_INVALID`. That is the key's fault, as an OpenAI or Anthropic 401 is:
/// the router reports it as `upstream_unauthenticated`, not as an invalid request.
@Suite("Router: a bad Gemini key", .serialized)
struct GeminiKeyRejectionTests {
    typealias R = RouterRaceTests

    /// End to end: the router against flexsim, which answers a bad key as Google does.
    @Test(arguments: [Api.generateContent, .interactions], [false, true])
    func aBadKeyIsUpstreamUnauthenticated(_ api: Api, _ stream: Bool) async throws {
        try await R.withRouter { router, sim in
            for startWithin in ["00h-00m-30s", "default"] {
                let id = "bad-key-\(api.name)-\(stream)-\(startWithin)"
                var request = R.request(api, startWithin: startWithin, id: id)
                request.providerKey = Secret("not-a-gemini-key")
                let failure = try await #require(throws: CallFailure.self) {
                    try await R.call(router, request, stream: stream)
                }
                #expect(failure.status.code == .unauthenticated, "\(startWithin)")
                #expect(failure.status.errorCode == ErrorCode.upstreamUnauthenticated.name, "\(startWithin)")
                #expect(failure.status.upstream?.httpStatus == 400)
                #expect(failure.status.upstream?.type == "INVALID_ARGUMENT")
                #expect(failure.savings == nil, "nothing was billed")
                #expect(!failure.description.contains("not-a-gemini-key"))
                // One attempt: a refused key is not retried on another tier.
                let rows = try await R.ledger(sim, id, count: 1)
                #expect(rows.count == 1 && rows[0]["reason"]?.string == "unauthorized")
            }
        }
    }

    /// The reason decides, only for Gemini and only on a 400: any other 400 stays the request's fault.
    @Test func onlyTheKeyReasonMakesAGemini400Unauthenticated() {
        func code(_ provider: Provider, _ status: Int, _ body: String) -> String? {
            let failure = UpstreamFailure.classify(
                provider: provider,
                status: status,
                headers: [],
                body: ByteBuffer(string: body),
                flex: false
            )
            return RouterError.of(failure)?.status.errorCode
        }
        let keyInvalid =
            #"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}]}}"#
        #expect(code(.gemini, 400, keyInvalid) == "upstream_unauthenticated")
        #expect(
            code(.gemini, 400, #"{"error":{"code":400,"message":"* contents: required","status":"INVALID_ARGUMENT"}}"#)
                == "upstream_invalid_request"
        )
        #expect(
            code(
                .gemini,
                400,
                #"{"error":{"code":400,"message":"x","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.BadRequest"},{"reason":"OTHER"}]}}"#
            ) == "upstream_invalid_request"
        )
        #expect(code(.openAI, 400, keyInvalid) == "upstream_invalid_request")
        #expect(code(.gemini, 401, keyInvalid) == "upstream_unauthenticated")
    }
}
