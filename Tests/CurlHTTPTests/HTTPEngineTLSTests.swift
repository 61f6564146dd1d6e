import CurlHTTP
import LoopbackHTTPServer
import Testing

/// TLS against a server whose certificate comes from a throwaway CA made with `openssl`.
@Suite(.serialized)
struct HTTPEngineTLSTests {
    @Test func verifiesTheServerAgainstTheConfiguredCA() async throws {
        let ca = try TestCertificateAuthority.generate()
        defer { ca.remove() }
        let server = try await LoopbackHTTPServer.start(
            tls: .init(certificateFile: ca.serverCertificateFile, keyFile: ca.serverKeyFile)
        )
        defer { Task { try await server.stop() } }
        #expect(server.baseURL.hasPrefix("https://"))
        try await withRunningEngine { engine in
            let untrusted = await failure(of: HTTPRequest(url: server.baseURL + "/echo"), on: engine)
            #expect(untrusted?.code == .tlsFailed)

            let trusted = try await engine.execute(HTTPRequest(url: server.baseURL + "/echo", tls: TLSOptions(caFile: ca.caFile)))
            #expect(trusted.status == 200)

            // The certificate is for 127.0.0.1 and localhost: another name fails host verification.
            let wrongName = await failure(
                of: HTTPRequest(url: "https://127.0.0.2:\(server.port)/echo", tls: TLSOptions(caFile: ca.caFile)),
                on: engine
            )
            #expect(wrongName != nil)

            let insecure = try await engine.execute(HTTPRequest(url: server.baseURL + "/echo", tls: TLSOptions(insecureSkipVerify: true)))
            #expect(insecure.status == 200)

            let missingCA = await failure(
                of: HTTPRequest(url: server.baseURL + "/echo", tls: TLSOptions(caFile: ca.directory + "/absent.pem")), on: engine)
            #expect(missingCA?.code == .tlsFailed)
        }
    }

    @Test func presentsAClientCertificateForMutualTLS() async throws {
        let ca = try TestCertificateAuthority.generate()
        defer { ca.remove() }
        let server = try await LoopbackHTTPServer.start(
            tls: .init(certificateFile: ca.serverCertificateFile, keyFile: ca.serverKeyFile, clientCAFile: ca.caFile)
        )
        defer { Task { try await server.stop() } }
        try await withRunningEngine { engine in
            let anonymous = await failure(of: HTTPRequest(url: server.baseURL + "/echo", tls: TLSOptions(caFile: ca.caFile)), on: engine)
            #expect(anonymous != nil)

            let tls = TLSOptions(caFile: ca.caFile, certFile: ca.clientCertificateFile, keyFile: ca.clientKeyFile)
            let response = try await engine.execute(HTTPRequest(url: server.baseURL + "/echo", tls: tls))
            #expect(response.status == 200)
        }
    }
}
