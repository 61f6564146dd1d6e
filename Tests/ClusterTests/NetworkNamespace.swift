import Foundation
import TestSupport

/// A Linux network namespace of a test's own, joined to the host by veth pairs: one private /30 per pair,
/// `10.213.N.1` on the host side and `10.213.N.2` inside. A process run through ``launcher`` sees only these
/// links (and its own loopback), so cutting a pair's host side (`ip link set … down`) cuts that process's path
/// and nothing else; ``heal(_:)`` restores it. Needs root and `ip` (iproute2).
struct NetworkNamespace: Sendable {
    /// One veth pair: its interface names and addresses.
    struct Link: Sendable {
        /// The interface in the host's namespace, e.g. `atp1a2b3c0`.
        let hostInterface: String
        /// The host side's address, reachable from inside the namespace.
        let hostAddress: String
        /// The address inside the namespace.
        let namespaceAddress: String
    }

    /// The namespace's name (`ip netns list`).
    let name: String
    /// Its veth pairs.
    let links: [Link]

    /// The `ip` binary.
    static let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Whether this machine lets the tests create namespaces: root, `ip` installed, and `ip netns add` works
    /// (containers without CAP_SYS_ADMIN refuse it). Probed once, with a namespace that is deleted at once.
    static let isPermitted: Bool = {
        guard getuid() == 0, let ip else { return false }
        let probe = "asynctask-probe-\(getpid())"
        guard succeedsBlocking(ip, ["netns", "add", probe]) else { return false }
        _ = succeedsBlocking(ip, ["netns", "del", probe])
        return true
    }()

    /// The command prefix that runs a program inside the namespace (`ip netns exec` execs, so the pid stays).
    var launcher: [String] { [Self.ip ?? "ip", "netns", "exec", name] }

    /// Creates the namespace with `links` veth pairs, up and addressed. On failure everything made so far is
    /// removed before the error is thrown.
    static func create(links count: Int) async throws -> NetworkNamespace {
        guard let ip else { throw TestSetupError("`ip` (iproute2) is not installed: run scripts/ensure-deps.sh") }
        // Short random names: interface names are limited to 15 bytes. The third octet keeps parallel runs apart.
        let tag = String(UUID().uuidString.lowercased().prefix(6))
        let name = "asynctask-\(tag)"
        let octet = Int.random(in: 1...200)
        let links = (0..<count).map { index in
            Link(hostInterface: "atp\(tag)\(index)", hostAddress: "10.213.\(octet + index).1", namespaceAddress: "10.213.\(octet + index).2")
        }
        let namespace = NetworkNamespace(name: name, links: links)
        do {
            try await run(ip, ["netns", "add", name])
            try await run(ip, ["netns", "exec", name, ip, "link", "set", "lo", "up"])
            for (index, link) in links.enumerated() {
                let inner = "atn\(tag)\(index)"
                try await run(ip, ["link", "add", link.hostInterface, "type", "veth", "peer", "name", inner, "netns", name])
                try await run(ip, ["addr", "add", "\(link.hostAddress)/30", "dev", link.hostInterface])
                try await run(ip, ["link", "set", link.hostInterface, "up"])
                try await run(ip, ["netns", "exec", name, ip, "addr", "add", "\(link.namespaceAddress)/30", "dev", inner])
                try await run(ip, ["netns", "exec", name, ip, "link", "set", inner, "up"])
            }
        } catch {
            await namespace.destroy()
            throw error
        }
        return namespace
    }

    /// Cuts a link: its host side goes down, so packets between the namespace and that address are dropped
    /// (open TCP connections stall rather than reset, as in a real partition).
    func cut(_ link: Link) async throws {
        try await Self.run(Self.ip ?? "ip", ["link", "set", link.hostInterface, "down"])
    }

    /// Brings a cut link back up (the address and routes return with it).
    func heal(_ link: Link) async throws {
        try await Self.run(Self.ip ?? "ip", ["link", "set", link.hostInterface, "up"])
    }

    /// Deletes the veth pairs and the namespace; never throws, so it can run from any cleanup path.
    func destroy() async {
        guard let ip = Self.ip else { return }
        for link in links { _ = try? await Self.run(ip, ["link", "del", link.hostInterface]) }
        _ = try? await Self.run(ip, ["netns", "del", name])
    }

    /// Runs a command to its end (ChildProcess: output in files, exit polled); throws with its output on failure.
    @discardableResult
    private static func run(_ executable: String, _ arguments: [String]) async throws -> String {
        let output = try await ChildProcess.run([executable] + arguments)
        guard output.exitCode == 0 else {
            throw TestSetupError("\(executable) \(arguments.joined(separator: " ")) failed (\(output.exitCode)): \(output.stdout)\(output.stderr)")
        }
        return output.stdout
    }

    /// Whether a command succeeds, blocking the calling thread: only for the one-off probe in ``isPermitted``.
    private static func succeedsBlocking(_ executable: String, _ arguments: [String]) -> Bool {
        (try? ChildProcess.runBlocking([executable] + arguments))?.exitCode == 0
    }
}
