internal import FlexCodec
internal import FlexJSON
internal import FlexRouter
internal import NIOCore

extension PlannedCall {
    /// Why a call has no JSON body to send: the error code its ``CallResult`` fails with.
    struct BodyFailure: Error {
        var code: String
    }

    /// The call's body as its API's JSON object: a native body parsed, a typed one translated by
    /// the router's typed translation (streaming or not, as the call is).
    func nativeObject(api: Api) throws(BodyFailure) -> JSONObject {
        switch self.request.body {
        case .nativeJSON(let bytes)?:
            guard let object = try? JSONParser.parse(bytes.readableBytesView).object else {
                throw BodyFailure(code: "invalid_request_body")
            }
            return object
        case .chat(let chat)?:
            do {
                return try TypedCall.nativeBody(chat, api: api, model: self.request.model, streaming: self.stream)
            } catch {
                throw BodyFailure(code: error.errorCode)
            }
        case nil:
            throw BodyFailure(code: "missing_body")
        }
    }
}
