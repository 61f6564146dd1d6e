import AsyncTaskCore
import Testing

struct RedactionTests {
    @Test(arguments: [
        ("postgresql://app:s3cret@db/app", "postgresql://app:***@db/app"),
        ("postgresql://alice:s3cret@db/app?password=other", "postgresql://alice:***@db/app?password=***"),
        // An unencoded `@` in the password: masked up to the authority's last `@`, nothing of it left.
        ("postgresql://alice:p@ss@db/app", "postgresql://alice:***@db/app"),
        ("http://orders:tok@127.0.0.1:8080/rpc", "http://orders:***@127.0.0.1:8080/rpc"),
        ("connect to postgres://u:one@a/x failed, then http://v:two@b/y", "connect to postgres://u:***@a/x failed, then http://v:***@b/y"),
        ("host=db user=app password=s3cret dbname=app", "host=db user=app password=*** dbname=app"),
        ("?user=a&PASSWORD=x&ssl=1", "?user=a&PASSWORD=***&ssl=1"),
        // Nothing secret: unchanged.
        ("postgresql://app@db:5432/app", "postgresql://app@db:5432/app"),
        ("http://host:8080/path?q=a@b", "http://host:8080/path?q=a@b"),
        ("mail alice@example.com at 10:30", "mail alice@example.com at 10:30"),
        ("", ""),
    ])
    func masksPasswordsInText(_ text: String, _ masked: String) {
        #expect(Redaction.maskingPasswords(in: text) == masked)
    }

    @Test func secretKeysAreReplacedWhole() {
        for key in [
            "token", "Admin_Token", "password", "authorization", "secret", "database_url", "args", "method_args", "read_token", "pg_password",
        ] {
            #expect(Redaction.redact(key: key, "postgresql://a:b@c") == Redaction.placeholder, "\(key)")
        }
        #expect(Redaction.placeholder == "[redacted]")
    }

    @Test func otherKeysKeepTheirValueWithPasswordsMasked() {
        #expect(Redaction.redact(key: "url", "postgresql://a:b@c/d") == "postgresql://a:***@c/d")
        #expect(Redaction.redact(key: "target", "OrderClient") == "OrderClient")
        #expect(Redaction.redact(key: "tokens_left", "3") == "3")
    }
}
