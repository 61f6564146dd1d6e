import AsyncTask
import Testing

@Suite("NearestName: did-you-mean suggestions by edit distance")
struct NearestNameTests {
    @Test("suggests the closest name, case-insensitively, and nothing for unrelated names")
    func nearest() {
        #expect(
            NearestName.nearest(to: "ASYNCTASK_NODE_CONCURENCY", in: ["ASYNCTASK_NODE_CONCURRENCY", "ASYNCTASK_NODE_LEASE"])
                == "ASYNCTASK_NODE_CONCURRENCY")
        #expect(NearestName.nearest(to: "orderclient", in: ["Billing", "OrderClient"]) == "OrderClient")
        #expect(NearestName.nearest(to: "OrderClnt", in: ["OrderClient", "Billing"]) == "OrderClient")
        #expect(NearestName.nearest(to: "Payments", in: ["OrderClient", "Billing"]) == nil)
        #expect(NearestName.nearest(to: "x", in: [String]()) == nil)
    }
}
