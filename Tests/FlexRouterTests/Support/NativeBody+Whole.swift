import FlexCore
import FlexJSON
import NIOCore

@testable import FlexRouter

extension NativeBody {
    /// A body an adapter wrote, parsed whole: what the tests read of a request sent upstream.
    static func parsedWhole(_ body: ByteBuffer) throws(RouterError) -> JSONObject {
        guard let object = (try? JSONParser.parse(body.readableBytesView))?.object else {
            throw RouterError(.invalidRequestBody, "the adapter wrote a body that is not a JSON object")
        }
        return object
    }
}
