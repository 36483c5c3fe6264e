internal import FlexCodec
internal import FlexJSON
internal import NIOCore
internal import NIOHTTP1

/// An SDK's HTTP request read as a call: the provider's native body less `start_within` and
/// `retry`, the
/// provider key from the SDK's own auth header, the tenant's flexd key, whether it streams.
struct DoorRequest: Sendable {
    var request: InferenceRequest
    var streaming: Bool
    /// The flexd API key (`flexd-api-key`), empty without one.
    var tenantKey: Secret

    /// Reads a call of `api` from its head and body; throws the status of a request that cannot
    /// become a call. `modelOwner` says which provider the catalog lists a model under.
    static func read(
        api: Api,
        modelInPath: String?,
        alwaysStreams: Bool,
        head: HTTPRequestHead,
        body: ByteBuffer,
        modelOwner: (String) -> Provider?
    ) throws(DoorRefusal) -> DoorRequest {
        // Only the members the door reads are built; the rest (the prompt) is checked and left
        // as the caller's bytes.
        let split: (kept: JSONObject, others: [Range<Int>])
        do {
            split = try JSONParser.splitObject(body.readableBytesView, keeping: Self.readMembers)
        } catch {
            let refusal = JSONParser.refusal(of: body.readableBytesView, error)
            if let type = refusal.notAnObject {
                throw DoorRefusal(
                    Status(.invalidRequestBody, "the \(api.name) request body must be a JSON object, not \(type)")
                )
            }
            throw DoorRefusal(
                Status(
                    .invalidRequestBody,
                    "the \(api.name) request body is not valid JSON (\(refusal.error))",
                    details: ["field": "body"]
                )
            )
        }
        var object = split.kept
        var edited = false
        var startWithin = head.headers.first(name: "flexd-start-within") ?? ""
        if let value = object["start_within"] {
            guard let text = value.string else {
                throw DoorRefusal(
                    Status(
                        .invalidStartWithin,
                        "start_within must be a string: \"priority\", \"default\", \"auto\" or a duration such as \"00h-00m-30s\"",
                        details: ["field": "start_within"]
                    )
                )
            }
            startWithin = text
            object["start_within"] = nil
            edited = true
        }
        var retry: RetryOption?
        if let value = object["retry"] {
            retry = try DoorRetry.read(value)
            object["retry"] = nil
            edited = true
        }
        let model = modelInPath ?? object["model"]?.string ?? ""
        if !model.isEmpty, let owner = modelOwner(model), owner != api.provider {
            throw DoorRefusal(
                Status(
                    .apiProviderMismatch,
                    "\(model) is a \(owner.name) model and \(api.name) is \(api.provider.name)'s API; call it through \(owner.apis.map(\.name).joined(separator: " or "))",
                    details: ["field": "model"]
                )
            )
        }
        var native = body
        if edited {
            native = Self.body(object, adding: split.others, of: body)
        }
        let request = InferenceRequest(
            requestID: head.headers.first(name: "flexd-request-id") ?? "",
            provider: api.provider,
            api: api,
            model: model,
            startWithin: startWithin,
            providerKey: Self.providerKey(api.provider, head),
            body: .nativeJSON(native),
            retry: retry
        )
        return DoorRequest(
            request: request,
            streaming: alwaysStreams || object["stream"]?.bool == true,
            tenantKey: Secret(head.headers.first(name: "flexd-api-key") ?? "")
        )
    }

    /// The body's members the door reads (and removes: `start_within`, `retry`).
    static let readMembers = ["start_within", "retry", "model", "stream"]

    /// `kept` with the runs `others` of `body` (offsets into its readable bytes) after its members:
    /// the caller's body less what the door removed, the rest as the caller wrote it.
    static func body(_ kept: JSONObject, adding others: [Range<Int>], of body: ByteBuffer) -> ByteBuffer {
        var native = ByteBuffer()
        native.reserveCapacity(body.readableBytes)
        JSONValue.object(kept).write(into: &native)
        body.withUnsafeReadableBytes { bytes in
            for run in others {
                JSONValue.appendMembers(UnsafeRawBufferPointer(rebasing: bytes[run]), toObjectIn: &native)
            }
        }
        return native
    }

    /// The provider key from the header the provider's SDK sends it in: OpenAI `Authorization:
    /// Bearer`, Anthropic `x-api-key` (or a bearer token), Gemini `x-goog-api-key` or `?key=`.
    static func providerKey(_ provider: Provider, _ head: HTTPRequestHead) -> Secret {
        let headers = head.headers
        let bearer = headers.first(name: "authorization").flatMap { value -> String? in
            let prefix = "bearer "
            guard value.lowercased().hasPrefix(prefix) else { return nil }
            return String(value.dropFirst(prefix.count)).trimmingSpaces
        }
        let key: String? =
            switch provider {
            case .openAI: bearer
            case .anthropic: headers.first(name: "x-api-key") ?? bearer
            case .gemini: headers.first(name: "x-goog-api-key") ?? Self.queryValue("key", in: head.uri)
            }
        return Secret(key ?? "")
    }

    /// A query parameter's value (percent-decoding `%XX`), or nil.
    static func queryValue(_ name: String, in uri: String) -> String? {
        guard let question = uri.firstIndex(of: "?") else { return nil }
        for pair in uri[uri.index(after: question)...].split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0] == name else { continue }
            return String(parts[1]).removingPercentEncoding ?? String(parts[1])
        }
        return nil
    }
}

/// A request the door answers itself, with an error, instead of running it.
struct DoorRefusal: Error, Sendable {
    var status: Status

    init(_ status: Status) {
        self.status = status
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var text = Substring(self)
        while text.first == " " { text.removeFirst() }
        while text.last == " " { text.removeLast() }
        return String(text)
    }

    /// `%XX` escapes decoded; nil when one is malformed.
    fileprivate var removingPercentEncoding: String? {
        var bytes: [UInt8] = []
        var iterator = self.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
                continue
            }
            guard let high = iterator.next().flatMap(Self.hexValue), let low = iterator.next().flatMap(Self.hexValue)
            else {
                return nil
            }
            bytes.append(high << 4 | low)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
