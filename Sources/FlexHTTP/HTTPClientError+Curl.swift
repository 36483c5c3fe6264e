internal import CCurl

extension HTTPClientError.Code {
    /// The failure class of a libcurl result code.
    ///
    /// FlexHTTP gives libcurl only one timeout (`CURLOPT_CONNECTTIMEOUT_MS`); it enforces the head, idle
    /// and total timeouts itself. So `CURLE_OPERATION_TIMEDOUT` always means the connect timeout.
    init(curlCode: CURLcode) {
        switch curlCode {
        case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT, CURLE_BAD_FUNCTION_ARGUMENT:
            self = .invalidRequest
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            self = .resolveFailed
        case CURLE_COULDNT_CONNECT, CURLE_INTERFACE_FAILED, CURLE_PROXY:
            self = .connectFailed
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
            CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH,
            CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_CRL_BADFILE, CURLE_SSL_SHUTDOWN_FAILED, CURLE_SSL_ENGINE_NOTFOUND,
            CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_ENGINE_INITFAILED, CURLE_USE_SSL_FAILED, CURLE_SSL_CLIENTCERT:
            self = .tlsFailed
        case CURLE_OPERATION_TIMEDOUT:
            self = .connectTimeout
        case CURLE_PARTIAL_FILE, CURLE_GOT_NOTHING, CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_HTTP2_STREAM:
            self = .connectionClosed
        case CURLE_WEIRD_SERVER_REPLY, CURLE_HTTP2, CURLE_BAD_CONTENT_ENCODING:
            self = .protocolError
        default:
            self = .internalError
        }
    }
}

extension HTTPClientError {
    /// The error for a failed transfer: libcurl's class, its message (scrubbed of secrets), its code.
    init(curlCode: CURLcode, errorBuffer: String, redactor: Redactor) {
        let text = errorBuffer.isEmpty ? String(cString: curl_easy_strerror(curlCode)) : errorBuffer
        self.init(
            code: Code(curlCode: curlCode),
            message: redactor.redact(text),
            curlCode: Int(curlCode.rawValue)
        )
    }
}
