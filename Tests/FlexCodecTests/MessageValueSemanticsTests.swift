import FlexCodec
import NIOCore
import Testing

/// The messages that keep their fields behind one reference (``SavingsRecord``'s copy-on-write box,
/// ``InferenceResponse``'s typed result, ``InferenceRequest/Body``) are still values: a copy never
/// sees another copy's writes, and equality and hashing look at the fields, not the boxes.
@Suite struct MessageValueSemanticsTests {
    @Test func aSavingsRecordCopyIsIndependent() {
        var original = SavingsRecord(
            requestID: "r1",
            provider: .openAI,
            model: "gpt-5.4-mini",
            standardCostPicoUSD: 100
        )
        var copy = original
        copy.requestID = "r2"
        copy.tokens.outputTokens = 7
        copy.fellBack = true
        #expect(original.requestID == "r1")
        #expect(original.tokens.outputTokens == 0)
        #expect(!original.fellBack)
        #expect(copy.requestID == "r2" && copy.tokens.outputTokens == 7 && copy.fellBack)
        // Writing the original after the copy changed does not reach the copy either.
        original.standardCostPicoUSD = 5
        #expect(copy.standardCostPicoUSD == 100)
    }

    @Test func savingsRecordsCompareAndHashByTheirFields() {
        let one = SavingsRecord(requestID: "r", model: "m", priceDate: "2026-11-26")
        let same = SavingsRecord(requestID: "r", model: "m", priceDate: "2026-11-26")
        var other = one
        other.priceDate = "2026-11-27"
        #expect(one == same)
        #expect(one.hashValue == same.hashValue)
        #expect(one != other)
        #expect(Set([one, same, other]).count == 2)
    }

    @Test func anInferenceResponseCopyKeepsItsOwnTypedResult() {
        var original = InferenceResponse(requestID: "r", chat: ChatResult(id: "c1", text: "hello"))
        var copy = original
        copy.chat?.text = "changed"
        #expect(original.chat?.text == "hello")
        #expect(copy.chat?.text == "changed")
        #expect(original != copy)
        original.chat = nil
        #expect(original.chat == nil)
        #expect(copy.chat?.id == "c1")
        #expect(
            InferenceResponse(requestID: "r", chat: ChatResult(id: "c1"))
                == InferenceResponse(requestID: "r", chat: ChatResult(id: "c1"))
        )
    }

    @Test func anInferenceRequestBodyIsAValue() {
        var request = InferenceRequest(requestID: "r", body: .chat(ChatRequest(messages: [.text(.user, "hi")])))
        let copy = request
        request.body = .nativeJSON(ByteBuffer(string: "{}"))
        #expect(copy.body != request.body)
        guard case .chat(let chat)? = copy.body else {
            Issue.record("the copy lost its typed body")
            return
        }
        #expect(chat.messages.count == 1)
    }
}
