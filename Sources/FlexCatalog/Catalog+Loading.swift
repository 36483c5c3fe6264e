internal import FlexCore
public import Foundation

extension Catalog {
    /// The catalog compiled into the library from `Resources/catalog.json`.
    ///
    /// Decoded once per process. It is checked by the tests, so a failure here means the embedded
    /// copy was edited by hand into something invalid; the error says what.
    public static func builtIn() throws(CatalogError) -> Catalog {
        try builtInResult.get()
    }

    private static let builtInResult: Result<Catalog, CatalogError> = {
        Result { () throws(CatalogError) -> Catalog in try Catalog(jsonData: Data(defaultCatalogJSON.utf8)) }
    }()

    /// Reads a catalog file (same format as the built-in one).
    public static func load(path: String) throws(CatalogError) -> Catalog {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw .invalid("cannot read \(path): \(error.localizedDescription)")
        }
        return try Catalog(jsonData: data)
    }

    /// Decodes and validates a catalog document.
    public init(jsonData: Data) throws(CatalogError) {
        let file: CatalogFile
        do { file = try JSONDecoder().decode(CatalogFile.self, from: jsonData) } catch let error as DecodingError {
            throw .invalid(Self.describe(error))
        } catch { throw .invalid("\(error)") }
        guard file.format == 1 else { throw .invalid("unsupported format \(file.format) (this build reads format 1)") }
        var providers: [Provider: ProviderCatalog] = [:]
        for (providerName, section) in file.providers {
            guard let provider = Provider(name: providerName) else {
                throw .invalid("unknown provider \"\(providerName)\" (expected openai, anthropic or gemini)")
            }
            var tierNames: [Tier: String] = [:]
            for (tierName, wire) in section.tierNames ?? [:] {
                guard let tier = Tier(name: tierName) else {
                    throw .invalid("\(provider): unknown tier \"\(tierName)\" in tier_names")
                }
                tierNames[tier] = wire
            }
            var models: [String: ModelEntry] = [:]
            var names = Set(section.models.keys)
            for (id, model) in section.models {
                for alias in model.aliases ?? [] {
                    guard names.insert(alias).inserted else {
                        throw .invalid("\(provider)/\(id): alias \(alias) is already a model id or alias")
                    }
                }
                models[id] = try Self.validate(model, provider: provider, id: id)
            }
            providers[provider] = ProviderCatalog(
                provider: provider,
                tierNames: tierNames,
                models: models,
                notes: section.notes
            )
        }
        self.init(providers: providers, notes: file.notes ?? [])
    }

    private static func validate(
        _ model: CatalogFile.Model,
        provider: Provider,
        id: String
    ) throws(CatalogError) -> ModelEntry {
        let name = "\(provider)/\(id)"
        guard !model.prices.isEmpty else { throw .invalid("\(name): no prices") }
        var periods: [PricePeriod] = []
        for (index, period) in model.prices.enumerated() {
            if index > 0 && period.validFrom == nil {
                throw .invalid("\(name): only the first price period may omit valid_from")
            }
            if let previous = periods.last?.validFrom, let from = period.validFrom, from <= previous {
                throw .invalid("\(name): price periods must be in increasing valid_from order")
            }
            guard !period.tiers.isEmpty else { throw .invalid("\(name): a price period lists no tier") }
            var tiers: [Tier: TokenPrices] = [:]
            for (tierName, p) in period.tiers {
                guard let tier = Tier(name: tierName) else {
                    throw .invalid("\(name): unknown tier \"\(tierName)\" (expected flex, standard or priority)")
                }
                let prices = TokenPrices(
                    input: p.input,
                    cachedInput: p.cachedInput,
                    cacheWrite: p.cacheWrite,
                    cacheWrite1h: p.cacheWrite1h,
                    output: p.output
                )
                guard
                    [prices.input, prices.cachedInput, prices.cacheWrite, prices.cacheWrite1h, prices.output]
                        .allSatisfy({ $0 >= 0 })
                else {
                    throw .invalid("\(name): negative price on \(tier)")
                }
                tiers[tier] = prices
            }
            periods.append(PricePeriod(validFrom: period.validFrom, tiers: tiers))
        }
        let offersFlexEverywhere = periods.allSatisfy { $0.tiers[.flex] != nil }
        if model.flexCapable != offersFlexEverywhere {
            throw .invalid("\(name): flex_capable must be true exactly when every price period lists a flex price")
        }
        var rule: LongContextRule?
        if let lc = model.longContext {
            let m = lc.multiplierPermille
            let built = LongContextRule(
                aboveInputTokens: lc.aboveInputTokens,
                inputPermille: m.input,
                cachedInputPermille: m.cachedInput,
                cacheWritePermille: m.cacheWrite,
                cacheWrite1hPermille: m.cacheWrite1h,
                outputPermille: m.output
            )
            guard built.aboveInputTokens > 0 else {
                throw .invalid("\(name): long_context.above_input_tokens must be positive")
            }
            for period in periods {
                for (tier, prices) in period.tiers where built.apply(to: prices) == nil {
                    throw .invalid("\(name): long-context \(tier) price is not a whole micro-USD per 1M tokens")
                }
            }
            rule = built
        }
        return ModelEntry(
            provider: provider,
            id: id,
            aliases: model.aliases ?? [],
            flexCapable: model.flexCapable,
            reasoning: model.reasoning ?? false,
            retiresOn: model.retiresOn,
            longContext: rule,
            periods: periods,
            notes: model.notes
        )
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        }
        switch error {
        case .keyNotFound(let key, let context): return "missing field \(path(context)).\(key.stringValue)"
        case .typeMismatch(let type, let context): return "\(path(context)): expected \(type)"
        case .valueNotFound(let type, let context): return "\(path(context)): expected \(type), found null"
        case .dataCorrupted(let context): return "\(path(context)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}

/// The JSON document, as decoded before validation.
struct CatalogFile: Decodable {
    var format: Int
    var notes: [String]?
    var providers: [String: Section]

    struct Section: Decodable {
        var tierNames: [String: String]?
        var models: [String: Model]
        var notes: String?
        enum CodingKeys: String, CodingKey {
            case tierNames = "tier_names"
            case models, notes
        }
    }

    struct Model: Decodable {
        var aliases: [String]?
        var flexCapable: Bool
        var reasoning: Bool?
        var retiresOn: CalendarDate?
        var longContext: LongContext?
        var prices: [Period]
        var notes: String?
        enum CodingKeys: String, CodingKey {
            case aliases
            case flexCapable = "flex_capable"
            case reasoning
            case retiresOn = "retires_on"
            case longContext = "long_context"
            case prices, notes
        }
    }

    struct LongContext: Decodable {
        var aboveInputTokens: Int
        var multiplierPermille: Multipliers
        enum CodingKeys: String, CodingKey {
            case aboveInputTokens = "above_input_tokens"
            case multiplierPermille = "multiplier_permille"
        }
    }

    struct Multipliers: Decodable {
        var input: Int64
        var cachedInput: Int64
        var cacheWrite: Int64
        var cacheWrite1h: Int64?
        var output: Int64
        enum CodingKeys: String, CodingKey {
            case input
            case cachedInput = "cached_input"
            case cacheWrite = "cache_write"
            case cacheWrite1h = "cache_write_1h"
            case output
        }
    }

    struct Period: Decodable {
        var validFrom: CalendarDate?
        var tiers: [String: Prices]
        enum CodingKeys: String, CodingKey {
            case validFrom = "valid_from"
            case tiers
        }
    }

    struct Prices: Decodable {
        var input: Int64
        var cachedInput: Int64
        var cacheWrite: Int64
        var cacheWrite1h: Int64?
        var output: Int64
        enum CodingKeys: String, CodingKey {
            case input
            case cachedInput = "cached_input"
            case cacheWrite = "cache_write"
            case cacheWrite1h = "cache_write_1h"
            case output
        }
    }
}
