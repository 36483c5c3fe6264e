import FlexCore
import NIOCore
import Testing

@testable import FlexRouter

@Suite("Redaction of keys in provider messages")
struct RedactionTests {
    @Test(arguments: [
        (
            "Incorrect API key provided: sk-proj-abc1********************wxyz. You can find your API key at https://x.",
            "sk-proj"
        ),
        ("Incorrect API key provided: sk-...abcd.", "abcd"),
        ("API key not valid: AIzaSyD-example_key_1234567890", "AIzaSy"),
        ("invalid x-api-key sk-ant-api03-secret-value", "sk-ant"),
        ("tenant key fxk_live_123 rejected", "fxk_live"),
    ])
    func keyLikeTokensAreRemoved(_ message: String, _ fragment: String) {
        let scrubbed = Redaction.scrub(message)
        #expect(!scrubbed.contains(fragment), "\(scrubbed)")
        #expect(scrubbed.contains("[redacted]"))
    }

    @Test func ordinaryTextIsKeptAndExactSecretsGo() {
        #expect(Redaction.scrub("Rate limit reached for requests.") == "Rate limit reached for requests.")
        #expect(
            Redaction.scrub("bad key 12345678-abcdefgh here", secrets: ["12345678-abcdefgh"])
                == "bad key [redacted] here"
        )
    }

    @Test func upstreamErrorsAreScrubbedBeforeTheyReachTheCaller() {
        let body = ByteBuffer(
            string:
                #"{"error":{"message":"Incorrect API key provided: sk-test-1234*****5678.","type":"invalid_request_error","code":"invalid_api_key"}}"#
        )
        guard
            case .fatal(let error) = UpstreamFailure.classify(
                provider: .openAI,
                status: 401,
                headers: [],
                body: body,
                flex: false
            )
        else {
            Issue.record("a 401 is the caller's fault")
            return
        }
        #expect(error.status.code == .unauthenticated)
        #expect(!error.status.message.contains("sk-test"))
        #expect(!(error.status.upstream?.message.contains("sk-test") ?? true))
    }
}
