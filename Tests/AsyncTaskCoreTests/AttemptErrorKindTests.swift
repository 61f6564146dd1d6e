import AsyncTaskCore
import Testing

/// The error kinds' wire strings are stored in rows and sent to webhook receivers: renaming one is a breaking
/// change, so each is listed here by hand.
struct AttemptErrorKindTests {
    static let wireStrings: [(AttemptErrorKind, String)] = [
        (.httpStatus, "http_status"), (.connect, "connect"), (.dns, "dns"), (.tls, "tls"), (.timeout, "timeout"),
        (.connection, "connection"), (.protocol, "protocol"), (.jsonrpcError, "jsonrpc_error"), (.invalidResponse, "invalid_response"),
        (.batchResult, "batch_result"), (.invalidMethodName, "invalid_method_name"), (.invalidArguments, "invalid_arguments"),
        (.invalidRequest, "invalid_request"), (.cancelled, "cancelled"), (.shutdown, "shutdown"), (.internal, "internal"),
        (.triesExhausted, "tries_exhausted"), (.decryption, "decryption"), (.argumentsUndecodable, "arguments_undecodable"),
        (.expired, "expired"), (.operator, "operator"),
    ]

    @Test func everyKindKeepsItsWireString() {
        for (kind, wire) in Self.wireStrings {
            #expect(kind.rawValue == wire)
            #expect(kind.description == wire, "interpolated into last_error's `kind: message` and log metadata")
            #expect(AttemptErrorKind(rawValue: wire) == kind)
        }
    }

    @Test func theTableListsEveryCaseOnce() {
        let listed = Self.wireStrings.map(\.0)
        #expect(Set(listed).count == listed.count)
        #expect(Set(listed) == Set(AttemptErrorKind.allCases))
    }

    @Test func unknownStringsAreNotKinds() {
        #expect(AttemptErrorKind(rawValue: "httpStatus") == nil)
        #expect(AttemptErrorKind(rawValue: "") == nil)
    }
}
