import Foundation

/// A PostgreSQL server of a test's own (initdb into a temp dir, a free port), for tests that restart or stop
/// the server and so must not share the suite's server. Runs as the `postgres` OS user when the tests run as
/// root, as PostgreSQL requires.
public final class PostgresServer: Sendable {
    /// The data directory's parent (socket, log).
    public let directory: String
    public let port: Int
    /// A superuser URL for the `postgres` database.
    public var url: String { "postgresql://asynctask@127.0.0.1:\(port)/postgres" }
    /// The addresses it accepts TCP connections on (`listen_addresses`).
    public let listenAddresses: [String]
    private let binaries: String

    private init(directory: String, port: Int, binaries: String, listenAddresses: [String]) {
        self.directory = directory
        self.port = port
        self.binaries = binaries
        self.listenAddresses = listenAddresses
    }

    /// Creates and starts a server.
    /// - Parameters:
    ///   - listenAddresses: where it accepts TCP connections; loopback only by default. Each address must exist
    ///     on this host when the server starts (e.g. the host side of a test's veth pair).
    ///   - hbaLines: `pg_hba.conf` lines placed before initdb's, so they win (the first matching line applies):
    ///     e.g. `host all all 10.213.0.0/16 trust`, or `host all app 127.0.0.1/32 scram-sha-256` for a role that
    ///     must give its password. initdb's own lines trust every local and loopback connection.
    public static func start(listenAddresses: [String] = ["127.0.0.1"], hbaLines: [String] = []) async throws -> PostgresServer {
        let binaries = try findBinaries()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("asynctask-pg-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        if getuid() == 0 { _ = try await run("/bin/chown", ["postgres", directory], asPostgres: false) }
        let server = PostgresServer(directory: directory, port: try freePort(), binaries: binaries, listenAddresses: listenAddresses)
        _ = try await run(
            "\(binaries)/initdb", ["-D", "\(directory)/data", "-U", "asynctask", "--auth=trust", "-E", "UTF8", "--no-locale"], asPostgres: true)
        if !hbaLines.isEmpty {
            let hba = "\(directory)/data/pg_hba.conf"
            let existing = try String(contentsOfFile: hba, encoding: .utf8)
            // Rewritten in place (not replaced), so the file keeps its owner (postgres) and mode.
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: hba))
            defer { try? handle.close() }
            try handle.truncate(atOffset: 0)
            try handle.write(contentsOf: Data((hbaLines.joined(separator: "\n") + "\n" + existing).utf8))
        }
        try await server.control("start")
        return server
    }

    /// `pg_ctl start|stop|restart` with this server's options.
    public func control(_ verb: String, mode: String = "fast") async throws {
        var arguments = ["-D", "\(directory)/data", "-l", "\(directory)/server.log", "-w", "-t", "60"]
        if verb != "start" { arguments += ["-m", mode] }
        arguments += [
            "-o",
            "-p \(port) -k \(directory) -c listen_addresses=\(listenAddresses.joined(separator: ",")) -c fsync=off -c synchronous_commit=off -c max_connections=200",
            verb,
        ]
        _ = try await Self.run("\(binaries)/pg_ctl", arguments, asPostgres: true)
    }

    /// Stops the server at once and removes its files.
    public func destroy() async {
        try? await control("stop", mode: "immediate")
        try? FileManager.default.removeItem(atPath: directory)
    }

    private static func findBinaries() throws -> String {
        let candidates = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql"))?.sorted(by: >) ?? []
        for version in candidates where FileManager.default.isExecutableFile(atPath: "/usr/lib/postgresql/\(version)/bin/initdb") {
            return "/usr/lib/postgresql/\(version)/bin"
        }
        throw TestSetupError("PostgreSQL server binaries not found under /usr/lib/postgresql (install the postgresql package)")
    }

    private static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0 }
        }
        guard bound else { throw TestSetupError("cannot find a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    @discardableResult
    private static func run(_ executable: String, _ arguments: [String], asPostgres: Bool) async throws -> String {
        // Closing inherited descriptors: a server forked by pg_ctl would otherwise keep Foundation's exit watch
        // for pg_ctl open for good, and pg_ctl would never look finished. Output goes to files, not pipes.
        var command = [executable] + arguments
        if asPostgres && getuid() == 0 { command = ["/sbin/runuser", "-u", "postgres", "--"] + command }
        let output = try await ChildProcess.run(command, timeout: .seconds(120), closingInheritedDescriptors: true)
        let text = output.stdout + output.stderr
        guard output.exitCode == 0 else {
            throw TestSetupError("\(executable) \(arguments.joined(separator: " ")) failed: \(text)")
        }
        return text
    }
}
