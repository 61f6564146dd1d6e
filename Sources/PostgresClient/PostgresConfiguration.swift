import CLibPQ
import Foundation

/// How to reach a PostgreSQL server: libpq connection keywords, built from a URL or given one by one.
///
/// Settings are handed to libpq as keyword/value arrays (`PQconnectdbParams`), never concatenated into a
/// connection string, so a value can never be read as another keyword. Every libpq keyword passes through,
/// including the TLS ones (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`, …).
public struct PostgresConfiguration: Sendable, CustomStringConvertible {
    /// libpq connection keywords in the order they are passed (later ones win).
    public private(set) var parameters: [(key: String, value: String)]

    /// Builds a configuration from a `postgres://` or `postgresql://` URL (or a libpq `key=value` string).
    ///
    /// - Parameters:
    ///   - url: the connection URL; percent-encoded user, password, host, port, database and query parameters as
    ///     libpq documents them (e.g. `?sslmode=verify-full&sslrootcert=/ca.pem`).
    ///   - applicationName: shown in `pg_stat_activity`, unless the URL sets its own.
    /// - Throws: `PostgresError` with code `.invalidConfiguration` when libpq cannot parse it; the message never
    ///   contains the password.
    public init(url: String, applicationName: String = "asynctask") throws(PostgresError) {
        // An unencoded '@' in the password (postgresql://u:p@ss@host/db) makes libpq read the rest of the password
        // as the host name, which its error messages then show: refuse it, naming the fix, before libpq sees it.
        if let scheme = url.range(of: "://"), url.hasPrefix("postgres") {
            let authority = url[scheme.upperBound...].prefix { $0 != "/" && $0 != "?" }
            if authority.count(where: { $0 == "@" }) > 1 {
                throw PostgresError(
                    code: .invalidConfiguration,
                    message: "invalid database URL \(Self.redact(url)): the user or password holds an unencoded '@' (write it as %40)")
            }
        }
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(url, &errorMessage) else {
            let reason = errorMessage.map { String(cString: $0) } ?? "unparseable connection string"
            if let errorMessage { PQfreemem(errorMessage) }
            throw PostgresError(
                code: .invalidConfiguration,
                message: "invalid database URL \(Self.redact(url)): \(reason.trimmingTrailingWhitespace())"
            )
        }
        defer { PQconninfoFree(options) }
        var parameters: [(key: String, value: String)] = [("application_name", applicationName)]
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val {
                parameters.append((String(cString: keyword), String(cString: value)))
            }
            option += 1
        }
        // libpq checks the port only when it connects; a typo there is bad input, not an unreachable server.
        for (key, value) in parameters where key == "port" {
            let valid = value.split(separator: ",", omittingEmptySubsequences: false).allSatisfy { part in
                part.isEmpty || (UInt16(part).map { $0 > 0 } ?? false)
            }
            guard valid else {
                throw PostgresError(
                    code: .invalidConfiguration, message: "invalid database URL \(Self.redact(url)): port '\(value)' is not a number from 1 to 65535")
            }
        }
        self.parameters = parameters
    }

    /// Builds a configuration from individual settings.
    public init(
        host: String = "127.0.0.1",
        port: Int = 5432,
        user: String,
        password: String? = nil,
        database: String,
        applicationName: String = "asynctask",
        additional: [(key: String, value: String)] = []
    ) {
        var parameters: [(key: String, value: String)] = [
            ("host", host), ("port", String(port)), ("user", user), ("dbname", database),
            ("application_name", applicationName),
        ]
        if let password { parameters.append(("password", password)) }
        self.parameters = parameters + additional
    }

    /// Sets (or replaces) one libpq keyword, e.g. `sslmode` or `connect_timeout`.
    public mutating func set(_ key: String, _ value: String) {
        parameters.removeAll { $0.key == key }
        parameters.append((key, value))
    }

    /// Sets a server setting for every session of this configuration (`-c name=value` in libpq's `options`),
    /// unless the URL's `options` or the `PGOPTIONS` environment variable already set it: the user's choice wins.
    ///
    /// Setting `options` here would hide `PGOPTIONS` from libpq, so its value is carried over.
    public mutating func setSessionDefault(_ name: String, _ value: String) {
        let existing = self.value(of: "options") ?? ProcessInfo.processInfo.environment["PGOPTIONS"] ?? ""
        let words = existing.split(whereSeparator: \.isWhitespace)
        let mentioned = words.contains { word in
            let setting = word.hasPrefix("--") ? word.dropFirst(2) : (word.hasPrefix("-c") ? word.dropFirst(2) : word)
            return setting.split(separator: "=", maxSplits: 1).first.map { $0.replacing("-", with: "_") == name } ?? false
        }
        guard !mentioned else { return }
        set("options", (existing.isEmpty ? "" : existing + " ") + "-c \(name)=\(value)")
    }

    /// The value of a keyword, if set.
    public func value(of key: String) -> String? {
        parameters.last { $0.key == key }?.value
    }

    /// Where this points, for messages: user, host, port and database; never the password.
    public var description: String {
        let user = value(of: "user").map { "\($0)@" } ?? ""
        let host = value(of: "host") ?? value(of: "hostaddr") ?? "localhost"
        let port = value(of: "port").map { ":\($0)" } ?? ""
        let database = value(of: "dbname").map { "/\($0)" } ?? ""
        return "postgresql://\(user)\(host)\(port)\(database)"
    }

    /// Masks the password in a connection URL or `key=value` string, for error messages and logs.
    public static func redact(_ url: String) -> String {
        var result = url
        // postgresql://user:secret@host → postgresql://user:***@host
        if let scheme = result.range(of: "://") {
            let rest = result[scheme.upperBound...]
            if let at = rest.lastIndex(of: "@"), let colon = rest[..<at].firstIndex(of: ":") {
                result.replaceSubrange(result.index(after: colon)..<at, with: "***")
            }
        }
        // password=secret (URL query or key=value form)
        var output = ""
        var remainder = Substring(result)
        while let range = remainder.range(of: "password=") {
            output += remainder[..<range.upperBound]
            output += "***"
            remainder = remainder[range.upperBound...]
            let end = remainder.firstIndex { $0 == "&" || $0 == " " } ?? remainder.endIndex
            remainder = remainder[end...]
        }
        return output + remainder
    }
}

extension String {
    func trimmingTrailingWhitespace() -> String {
        var s = Substring(self)
        while let last = s.last, last.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
