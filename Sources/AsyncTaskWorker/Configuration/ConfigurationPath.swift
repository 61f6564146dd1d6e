/// A key of the table with its placeholders filled in (`targets.OrderClient.headers.Authorization`): what a
/// setting reads, and names in its errors. Kept as components because a name may itself hold a dot.
struct ConfigurationPath: Hashable {
    /// The components: block names, then the user's names where the key has placeholders.
    let components: [String]

    /// The dotted key, as in the file and in errors.
    var path: String { components.joined(separator: ".") }

    /// The last component: the header or key id a `<placeholder>` stood for.
    var name: String { components.last ?? "" }
}
