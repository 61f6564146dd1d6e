import CCurl

extension HTTPClientError {
    /// Maps a failed transfer's `CURLcode` to an error, keeping libcurl's error text.
    init(curlCode: CURLcode, detail: String) {
        let code: Code
        switch curlCode {
        case CURLE_COULDNT_CONNECT:
            code = .connectFailed
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            code = .dnsFailed
        case CURLE_OPERATION_TIMEDOUT:
            code = .timeout
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
            CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_ENGINE_INITFAILED,
            CURLE_SSL_SHUTDOWN_FAILED, CURLE_SSL_CRL_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH,
            CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_CLIENTCERT, CURLE_USE_SSL_FAILED:
            code = .tlsFailed
        case CURLE_URL_MALFORMAT:
            code = .invalidURL
        case CURLE_GOT_NOTHING, CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_PARTIAL_FILE:
            code = .connectionLost
        // The engine checks the scheme itself, so libcurl's "unsupported protocol" here means a reply
        // in a protocol it refuses, such as HTTP/0.9 (bytes that are not an HTTP status line).
        case CURLE_UNSUPPORTED_PROTOCOL, CURLE_WEIRD_SERVER_REPLY, CURLE_HTTP2, CURLE_HTTP2_STREAM, CURLE_BAD_CONTENT_ENCODING,
            CURLE_TOO_MANY_REDIRECTS:
            code = .protocolError
        default:
            code = .other
        }
        self.init(code: code, curlCode: Int(curlCode.rawValue), detail: detail)
    }
}
