// libFuzzer target for FlexJSON's JSONParser.
//
// Every input is parsed twice: in full (`parse`), and keeping two members of an object
// (`parseObject(_:keeping:)`, which checks the rest without building it, as the router reads
// provider answers). The two must agree on whether the input is a JSON object, and on the members
// kept; a number beyond a Double's range is the one documented difference. A document that parses
// must also survive writing it out and parsing it again unchanged.

import FlexJSON
import NIOCore

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

    if let full {
        var buffer = ByteBuffer()
        full.write(into: &buffer)
        guard let again = try? JSONParser.parse(buffer.readableBytesView), again == full else {
            fatalError("written value does not parse back the same: \(full)")
        }
    }
    return 0
}
