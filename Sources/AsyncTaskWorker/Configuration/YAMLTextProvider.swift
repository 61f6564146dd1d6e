import Configuration

/// A swift-configuration provider over YAML text already in memory: the same `YAMLSnapshot` parsing that
/// `FileProvider<YAMLSnapshot>` does, without reading a file. `WorkerConfiguration.load(yaml:source:environment:)`
/// uses it, so a config file and config text go through one code path (the fuzz targets feed it bytes).
struct YAMLTextProvider: ConfigProvider {
    private let yaml: YAMLSnapshot

    /// Parses `text`; `source` names it in the provider's name (a file path, or `<config>`).
    /// - Throws: swift-configuration's error when the text is not YAML or its top level is not a mapping.
    init(text: String, source: String) throws {
        let bytes = Array(text.utf8)
        yaml = try YAMLSnapshot(data: bytes.span.bytes, providerName: "YAMLTextProvider[\(source)]", parsingOptions: .default)
    }

    var providerName: String { yaml.providerName }

    func value(forKey key: AbsoluteConfigKey, type: ConfigType) throws -> LookupResult {
        try yaml.value(forKey: key, type: type)
    }

    // The text never changes: fetching is looking up, and watching yields the one value. swift-configuration
    // declares the handlers `nonisolated(nonsending)` (its NonisolatedNonsendingByDefault), so these spell it out.
    func fetchValue(forKey key: AbsoluteConfigKey, type: ConfigType) async throws -> LookupResult {
        try value(forKey: key, type: type)
    }

    nonisolated(nonsending) func watchValue<Return: ~Copyable>(
        forKey key: AbsoluteConfigKey,
        type: ConfigType,
        updatesHandler: nonisolated(nonsending) (_ updates: ConfigUpdatesAsyncSequence<Result<LookupResult, any Error>, Never>) async throws -> Return
    ) async throws -> Return {
        try await watchValueFromValue(forKey: key, type: type, updatesHandler: updatesHandler)
    }

    func snapshot() -> any ConfigSnapshot { yaml }

    nonisolated(nonsending) func watchSnapshot<Return: ~Copyable>(
        updatesHandler: nonisolated(nonsending) (_ updates: ConfigUpdatesAsyncSequence<any ConfigSnapshot, Never>) async throws -> Return
    ) async throws -> Return {
        try await watchSnapshotFromSnapshot(updatesHandler: updatesHandler)
    }
}
