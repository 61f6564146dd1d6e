import Foundation
import TestSupport

/// A throwaway CA with a server certificate for 127.0.0.1/localhost and a client certificate,
/// made with the `openssl` command-line tool in a temporary directory.
public struct TestCertificateAuthority: Sendable {
    /// The directory holding every file.
    public let directory: String
    /// The CA certificate (PEM): what a client must trust.
    public var caFile: String { directory + "/ca.pem" }
    /// The server certificate (PEM), signed by the CA, for IP 127.0.0.1 and DNS localhost.
    public var serverCertificateFile: String { directory + "/server.pem" }
    /// The server's private key (PEM).
    public var serverKeyFile: String { directory + "/server.key" }
    /// A client certificate (PEM) signed by the CA, for mutual TLS.
    public var clientCertificateFile: String { directory + "/client.pem" }
    /// The client's private key (PEM).
    public var clientKeyFile: String { directory + "/client.key" }

    /// An error from running `openssl`.
    public struct OpenSSLError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Generates the CA, server and client certificates.
    public static func generate() throws -> TestCertificateAuthority {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("asynctask-tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let ca = TestCertificateAuthority(directory: directory)
        let curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try run(
            ["req", "-x509"] + curve + [
                "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=AsyncTask Test CA",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ], in: directory)
        for (name, usage, san) in [("server", "serverAuth", "IP:127.0.0.1,DNS:localhost"), ("client", "clientAuth", "DNS:client")] {
            try run(["req"] + curve + ["-keyout", "\(name).key", "-out", "\(name).csr", "-subj", "/CN=\(name)"], in: directory)
            try "subjectAltName=\(san)\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=\(usage)\n"
                .write(toFile: directory + "/\(name).ext", atomically: true, encoding: .utf8)
            try run(
                [
                    "x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                    "-out", "\(name).pem", "-days", "2", "-extfile", "\(name).ext",
                ], in: directory)
        }
        return ca
    }

    /// Removes the directory.
    public func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private static func run(_ arguments: [String], in directory: String) throws {
        // Synchronous: certificates are made in test setup; openssl takes milliseconds.
        let output = try ChildProcess.runBlocking(["/usr/bin/env", "openssl"] + arguments, directory: URL(fileURLWithPath: directory))
        guard output.exitCode == 0 else {
            throw OpenSSLError(description: "openssl \(arguments.first ?? "") failed: \(output.stderr)")
        }
    }
}
