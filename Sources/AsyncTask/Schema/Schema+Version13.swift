extension Schema {
    /// Schema v13: the claim function leases the rows it picked by id, whatever the table's size.
    ///
    /// Version 10's function updated its picked rows through a join (`FROM picked WHERE t.id = picked.id`).
    /// PL/pgSQL runs a generic plan after a few calls, made without the claim's size: it guessed a thousand picked
    /// rows and, on tables of about 100,000 rows, found hashing the whole table cheaper than a thousand
    /// primary-key lookups, so each claim of a target with a global limit read every row (`ClaimScanTests`). The
    /// rows are now found as `t.id = ANY (ARRAY(SELECT … FROM picked))`, which only primary-key lookups answer
    /// cheaply at any size, as the nodes' own claim statement does. The function's signature and results are
    /// unchanged, and so is version 11's rate margin. Version 8's signature, which only nodes of releases before
    /// version 10 call, keeps its join. No table change.
    static let version13 = Migration(
        version: 13, name: "claims_lease_by_id",
        sql: claimFunction(create: "CREATE OR REPLACE", rateMarginMs: rateStartMarginMs, leaseThroughIDArray: true))
}
