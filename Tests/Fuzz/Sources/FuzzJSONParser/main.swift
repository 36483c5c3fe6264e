// libFuzzer target for FlexJSON's JSONParser.
//
// Every input is parsed three times: in full (`parse`); keeping two members of an object
// (`parseObject(_:keeping:)`, which checks the rest without building it, as the router reads
// provider answers); and keeping them while probing paths into the rest
// (`parseObject(_:keeping:probing:)`, as the router reads the events it relays). All must agree on
// whether the input is a JSON object and on the members kept, and each probe's answer must be what
// the full value says (`JSONValue.contains`); a number beyond a Double's range is the one documented
// difference. `splitObject(_:keeping:)` (as the router reads a caller's request body) must agree
// too, and its runs of the other members, joined, must parse to exactly those members. A document
// that parses must also survive writing it out and parsing it again unchanged.

import FlexJSON
import NIOCore

/// Paths of the kinds the stream readers probe, over the member names of the seeds (provider
/// answers) and short names a mutation reaches.
enum Probes {
    static let all = [
        JSONProbe(.member("choices"), .anyElement, .member("delta"), .member("content"), matching: .nonEmptyString),
        JSONProbe(.member("choices"), matching: .nonEmptyArray),
        JSONProbe(.member("delta"), matching: .nonEmptyObject),
        JSONProbe(.member("delta"), .member("text"), matching: .nonEmptyString),
        JSONProbe(.member("a"), .anyElement, .anyElement, .member("b")),
        JSONProbe(.member("a")),
    ]
    /// Strings a kept value may equal (one of them short: a small string is built anyway).
    static let known = ["content_block_delta", "response.output_text.delta", "flex", "ünïcödé-löngér-thän-15"]
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSONParser(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let input = Array(UnsafeRawBufferPointer(start: start, count: count))
    let keys = ["usage", "service_tier"]

    let full: JSONValue?
    do {
        full = try JSONParser.parse(input)
    } catch {
        if error.reason == "number out of range" {
            return 0
        }
        full = nil
    }
    let kept = try? JSONParser.parseObject(input, keeping: keys)
    let expected = full?.object.map { JSONObject($0.fields.filter { keys.contains($0.key) }) }
    guard kept == expected else {
        fatalError(
            "parse and parseObject disagree: full \(String(describing: expected)), kept \(String(describing: kept))"
        )
    }

    let probed = try? JSONParser.parseObject(input, keeping: keys, probing: Probes.all, reusing: Probes.known)
    guard probed?.members == expected else {
        fatalError("parse and parseObject(probing:reusing:) disagree: full \(String(describing: expected))")
    }
    if let full, let probed {
        for (index, probe) in Probes.all.enumerated() where probed.probes[index] != full.contains(probe) {
            fatalError("probe \(probe) answered \(probed.probes[index]) for \(full)")
        }
    }

    let split = try? JSONParser.splitObject(input, keeping: keys)
    guard split?.kept == expected else {
        fatalError("parse and splitObject disagree: full \(String(describing: expected))")
    }
    if let split, let object = full?.object {
        var joined: [UInt8] = [UInt8(ascii: "{")]
        for (index, run) in split.others.enumerated() {
            if index > 0 { joined.append(UInt8(ascii: ",")) }
            joined += input[run]
        }
        joined.append(UInt8(ascii: "}"))
        let others = try? JSONParser.parse(joined).object
        guard others == JSONObject(object.fields.filter { !keys.contains($0.key) }) else {
            fatalError("splitObject's runs are not the other members: \(split.others)")
        }
    }

    if let full {
        var buffer = ByteBuffer()
        full.write(into: &buffer)
        guard let again = try? JSONParser.parse(buffer.readableBytesView), again == full else {
            fatalError("written value does not parse back the same: \(full)")
        }
    }
    return 0
}
