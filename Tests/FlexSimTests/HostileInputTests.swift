import FlexCatalog
import FlexCore
import FlexJSON
import FlexSim
import Foundation
import NIOCore
import Testing

/// Inputs meant to make a simulator crash, hang or balloon get a bounded, valid answer.
@Suite struct HostileInputTests {
    @Test func hostileSchemasGiveSmallValidJSON() async throws {
        let schema = #"""
            {"type":"object","properties":{
              "deep":{"type":"array","minItems":64,"items":{"type":"array","minItems":64,"items":{"type":"array","minItems":64,"items":{"type":"array","minItems":64,"items":{"type":"integer"}}}}},
              "loop":{"$ref":"#"},
              "huge":{"type":"integer","minimum":-9223372036854775808,"maximum":9223372036854775807},
              "long":{"type":"string","minLength":1000000000000},
              "neg":{"type":"array","minItems":-5,"maxItems":-1}
            },"required":["deep","loop","huge","long","neg"]}
            """#
        try await withSim { _, port in
            let client = try TestHTTPClient(port: port)
            client.send(
                "/openai/v1/chat/completions",
                headers: openAIKey,
                body: """
                    {"model":"gpt-4.1","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"h","schema":\(schema)}}}
                    """
            )
            let response = client.response()
            #expect(response.status == 200)
            let content = response.json?["choices"]?.array?[0]["message"]?["content"]?.string ?? ""
            let value = try JSONParser.parse(content)
            #expect(value["huge"]?.int != nil)
            #expect(content.utf8.count < 2_000_000)
        }
    }

    @Test func pipeliningIsAnsweredInOrder() async throws {
        try await withSim { _, port in
            let client = try TestHTTPClient(port: port)
            for index in 0..<5 {
                client.send(
                    "/openai/v1/chat/completions",
                    headers: openAIKey.merging(["x-flexsim-correlation-id": "p\(index)"]) { $1 },
                    body: #"{"model":"gpt-4.1","messages":[{"role":"user","content":"x"}]}"#
                )
            }
            for index in 0..<5 {
                #expect(client.response().headers["x-flexsim-correlation-id"] == "p\(index)")
            }
        }
    }

    @Test func garbageRequestLineGets400() async throws {
        try await withSim { _, port in
            let client = try TestHTTPClient(port: port)
            client.send("/ x y z\u{1}", method: "BR OKEN")
            #expect(client.response().status == 400)
        }
    }
}
