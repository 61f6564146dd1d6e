import AsyncTaskCore
import Testing

struct MethodNameTests {
    @Test(arguments: ["fulfill", "Order.fulfill", "_private", "a-b_c.d9", "a.b.c", String(repeating: "a", count: 128)])
    func acceptsPlainNames(_ name: String) {
        #expect(MethodName.isValid(name))
    }

    @Test(arguments: [
        "", "../admin", "a/b", "a..b", "ab..", "a.b...c", "a?x=1", "a#f", "a%2Fb", "a b", "a\r\nHost: evil", "1abc", ".hidden", "-x",
        "http://evil.example/x", "café", String(repeating: "a", count: 129),
    ])
    func rejectsNamesThatCouldSteerTheURL(_ name: String) {
        #expect(!MethodName.isValid(name))
    }
}
