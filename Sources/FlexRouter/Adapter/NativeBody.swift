internal import FlexCore
internal import FlexJSON
internal import NIOCore

/// Helpers every adapter uses on native JSON bodies.
enum NativeBody {
    /// Parses the caller's body: it must be one JSON object. Returns the members adapters read or
    /// set (``PassedMembers/keptKeys``), built, and the others as the caller's bytes, checked but
    /// not built (``JSONParser/splitObject(_:keeping:)``).
    static func parseRequest(_ body: ByteBuffer, api: Api) throws(RouterError) -> (JSONObject, PassedMembers) {
        let split: (kept: JSONObject, others: [Range<Int>])
        do {
            split = try JSONParser.splitObject(body.readableBytesView, keeping: PassedMembers.keptKeys)
        } catch {
            let refusal = JSONParser.refusal(of: body.readableBytesView, error)
            if let type = refusal.notAnObject {
                throw RouterError(
                    .invalidRequestBody,
                    "the \(api.name) request body must be a JSON object, not \(type)",
                    details: ["field": "native_json"]
                )
            }
            throw RouterError(
                .invalidRequestBody,
                "the \(api.name) request body is not valid JSON (\(refusal.error.reason) at byte \(refusal.error.offset))",
                details: ["field": "native_json"]
            )
        }
        return (split.kept, PassedMembers(split.others, of: body))
    }

    /// Refuses a body that sets the provider's own tier field: the caller says how long the call may
    /// wait to start (`start_within`) and flexd picks the tier, so a tier chosen in the body would
    /// either be overwritten behind the caller's back or contradict the race.
    static func refuseTierField(_ body: JSONObject, api: Api) throws(RouterError) {
        for field in ["service_tier", "serviceTier"] where body[field] != nil {
            throw RouterError(
                .serviceTierNotAllowed,
                "remove \(field) from the \(api.name) body: flexd picks the tier from start_within (how long the call may wait to start)",
                details: ["field": field]
            )
        }
    }

    /// Puts the call's model into the body (`model`), or checks that the body's own agrees.
    static func settingModel(_ body: JSONObject, _ model: String, api: Api) throws(RouterError) -> JSONObject {
        var body = body
        switch body["model"] {
        case nil, .null?:
            body["model"] = .string(model)
        case .string(let own)? where own == model || model.isEmpty:
            break
        case .string(let own)?:
            throw RouterError(
                .modelMismatch,
                "the call names model \(model) but its \(api.name) body names \(own); send one model",
                details: ["field": "model"]
            )
        default:
            throw RouterError(.invalidRequestBody, "the body's model must be a string", details: ["field": "model"])
        }
        return body
    }

    /// Checks a provider's answer (a JSON object) and returns its members named in `keys`: the
    /// router reads only its usage and tier, and passes the answer's bytes on untouched, so the rest
    /// is checked but not built.
    static func parseAnswer(_ body: ByteBuffer, api: Api, keeping keys: [String]) throws(RouterError) -> JSONValue {
        guard let object = try? JSONParser.parseObject(body.readableBytesView, keeping: keys) else {
            throw RouterError(
                .upstreamMalformedResponse,
                "\(api.provider.name) answered \(api.name) with a body that is not a JSON object"
            )
        }
        return .object(object)
    }

    static func malformedEvent(_ provider: Provider, _ event: NativeEvent) -> RouterError {
        RouterError(
            .upstreamMalformedEvent,
            "\(provider.name) sent a stream event whose data is not JSON (event \"\(event.event.prefix(64))\")"
        )
    }

    /// A relayed event's members named in `keys` and the answers to `probes` (the FlexRouter
    /// documentation, *Relayed events*); nil when its data is not a JSON object.
    static func relayed(
        _ event: NativeEvent,
        keeping keys: [String],
        probing probes: [JSONProbe],
        reusing known: [String] = []
    ) -> (members: JSONObject, probes: JSONProbeResults)? {
        try? JSONParser.parseObject(event.data.readableBytesView, keeping: keys, probing: probes, reusing: known)
    }

    static func encode(_ object: JSONObject) -> ByteBuffer {
        var buffer = ByteBuffer()
        JSONValue.object(object).write(into: &buffer)
        return buffer
    }

    /// A token count from JSON: non-negative integers only; anything else counts as 0.
    static func count(_ value: JSONValue?) -> UInt64 {
        guard let number = value?.int, number > 0 else { return 0 }
        return UInt64(number)
    }
}

extension UInt64 {
    /// `self - other`, or 0 when `other` is larger (a provider's inconsistent usage must not trap).
    func subtractingClamped(_ other: UInt64) -> UInt64 {
        self > other ? self - other : 0
    }

    /// `self + other`, saturating at `UInt64.max` (a provider's absurd counts must not trap).
    func addingClamped(_ other: UInt64) -> UInt64 {
        let (sum, overflow) = self.addingReportingOverflow(other)
        return overflow ? .max : sum
    }
}
