import Testing

/// The protoc-c output in Sources/CFlexProto is committed; this fails when it no longer matches
/// what `tools/gen-proto` makes from Proto/ (someone edited a .proto and did not regenerate).
@Suite("Generated protobuf-c code")
struct GeneratedCodeTests {
    @Test func committedCodeIsUpToDate() throws {
        let result = try Subprocess.run("bash", ["tools/gen-proto", "--check"])
        #expect(
            result.status == 0,
            "tools/gen-proto --check failed:\n\(result.stderr)\(String(decoding: result.stdout, as: UTF8.self))"
        )
    }
}
