import FlexCatalog
import FlexCore
import Foundation
import Testing

@Suite struct CatalogLoadingTests {
    static let sourceRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test func embeddedCatalogIsTheResourceFile() throws {
        let resource = Self.sourceRoot.appendingPathComponent("Sources/FlexCatalog/Resources/catalog.json")
        let fromFile = try Catalog.load(path: resource.path)
        #expect(try Catalog.builtIn() == fromFile, "run tools/gen-catalog after editing catalog.json")
        let generated = try String(
            contentsOf: Self.sourceRoot.appendingPathComponent("Sources/FlexCatalog/DefaultCatalogJSON.swift"),
            encoding: .utf8
        )
        let json = try String(contentsOf: resource, encoding: .utf8)
        #expect(
            generated.contains(json.trimmingCharacters(in: .newlines)),
            "run tools/gen-catalog after editing catalog.json"
        )
    }

    @Test func builtInListsAllThreeProviders() throws {
        let catalog = try Catalog.builtIn()
        #expect(catalog.providers[.openAI]!.models.count >= 20)
        #expect(catalog.providers[.anthropic]!.models.count >= 15)
        #expect(catalog.providers[.gemini]!.models.count >= 12)
    }

    static func document(_ model: String) -> Data {
        Data(
            """
            {"format": 1, "providers": {"openai": {"tier_names": {"standard": "default"}, "models": {"m": \(model)}}}}
            """.utf8
        )
    }

    @Test(arguments: [
        (
            #"{"flex_capable": true, "prices": [{"tiers": {"standard": {"input": 1, "cached_input": 1, "cache_write": 1, "output": 1}}}]}"#,
            "flex_capable"
        ),
        (
            #"{"flex_capable": false, "prices": [{"tiers": {"turbo": {"input": 1, "cached_input": 1, "cache_write": 1, "output": 1}}}]}"#,
            "unknown tier"
        ),
        (
            #"{"flex_capable": false, "prices": [{"tiers": {"standard": {"input": -1, "cached_input": 1, "cache_write": 1, "output": 1}}}]}"#,
            "negative"
        ),
        (
            #"{"flex_capable": false, "prices": [{"tiers": {"standard": {"input": 1, "cached_input": 1, "output": 1}}}]}"#,
            "cache_write"
        ),
        (
            #"{"flex_capable": false, "prices": [{"valid_from": "2026-02-30", "tiers": {"standard": {"input": 1, "cached_input": 1, "cache_write": 1, "output": 1}}}]}"#,
            "YYYY-MM-DD"
        ),
        (
            #"{"flex_capable": false, "prices": [{"valid_from": "2026-02-01", "tiers": {"standard": {"input": 1, "cached_input": 1, "cache_write": 1, "output": 1}}}, {"valid_from": "2026-01-01", "tiers": {"standard": {"input": 1, "cached_input": 1, "cache_write": 1, "output": 1}}}]}"#,
            "increasing"
        ),
        (
            #"{"flex_capable": false, "long_context": {"above_input_tokens": 10, "multiplier_permille": {"input": 1500, "cached_input": 1000, "cache_write": 1000, "output": 1000}}, "prices": [{"tiers": {"standard": {"input": 1, "cached_input": 1, "cache_write": 1, "output": 1}}}]}"#,
            "whole micro-USD"
        ),
    ])
    func invalidDocumentsAreRejectedWithAReason(model: String, expected: String) {
        do {
            _ = try Catalog(jsonData: Self.document(model))
            Issue.record("accepted an invalid catalog")
        } catch {
            #expect(error.description.contains(expected), "\(error.description)")
        }
    }

    @Test func overrideReplacesAndAddsModels() throws {
        let override = try Catalog(
            jsonData: Data(
                """
                {"format": 1, "providers": {"openai": {"models": {
                  "gpt-5": {"flex_capable": false, "prices": [{"tiers": {"standard": {"input": 7, "cached_input": 7, "cache_write": 7, "output": 7}}}]},
                  "my-model": {"flex_capable": false, "prices": [{"tiers": {"standard": {"input": 1, "cached_input": 1, "cache_write": 1, "output": 1}}}]}
                }}}}
                """.utf8
            )
        )
        let merged = try Catalog.builtIn().merging(override)
        #expect(merged.model(.openAI, "gpt-5")?.flexCapable == false)
        #expect(merged.model(.openAI, "my-model") != nil)
        #expect(merged.model(.openAI, "o3")?.flexCapable == true)
        #expect(merged.providers[.openAI]?.wireName(of: .standard) == "default")
    }

    @Test func missingFileIsAClearError() {
        #expect(throws: CatalogError.self) { try Catalog.load(path: "/nonexistent/catalog.json") }
    }

    @Test func calendarDates() {
        #expect(CalendarDate("2024-02-29") != nil)
        #expect(CalendarDate("2025-02-29") == nil)
        #expect(CalendarDate("2025-1-01") == nil)
        #expect(CalendarDate(unixSeconds: 0).description == "1970-01-01")
        #expect(CalendarDate(unixSeconds: 1_796_083_200).description == "2026-12-01")
        #expect(CalendarDate(unixSeconds: -1).description == "1969-12-31")
    }
}
