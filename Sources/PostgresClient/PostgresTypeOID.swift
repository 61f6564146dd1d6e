/// OIDs of the built-in PostgreSQL types this client encodes and decodes (from `pg_type`; fixed across versions).
public enum PostgresTypeOID {
    public static let bool: UInt32 = 16
    public static let bytea: UInt32 = 17
    public static let char: UInt32 = 18
    public static let name: UInt32 = 19
    public static let int8: UInt32 = 20
    public static let int2: UInt32 = 21
    public static let int4: UInt32 = 23
    public static let text: UInt32 = 25
    public static let oid: UInt32 = 26
    public static let json: UInt32 = 114
    public static let float4: UInt32 = 700
    public static let float8: UInt32 = 701
    public static let unknown: UInt32 = 705
    public static let bpchar: UInt32 = 1042
    public static let varchar: UInt32 = 1043
    public static let date: UInt32 = 1082
    public static let timestamp: UInt32 = 1114
    public static let timestamptz: UInt32 = 1184
    public static let interval: UInt32 = 1186
    public static let numeric: UInt32 = 1700
    public static let uuid: UInt32 = 2950
    public static let jsonb: UInt32 = 3802
    public static let boolArray: UInt32 = 1000
    public static let int2Array: UInt32 = 1005
    public static let int4Array: UInt32 = 1007
    public static let textArray: UInt32 = 1009
    public static let varcharArray: UInt32 = 1015
    public static let int8Array: UInt32 = 1016
    public static let float8Array: UInt32 = 1022
    public static let timestamptzArray: UInt32 = 1185
    public static let uuidArray: UInt32 = 2951

    /// True for the array types this client decodes.
    static func isArray(_ oid: UInt32) -> Bool {
        [boolArray, int2Array, int4Array, textArray, varcharArray, int8Array, float8Array, timestamptzArray, uuidArray].contains(oid)
    }

    /// A readable name for error messages.
    static func name(of oid: UInt32) -> String {
        switch oid {
        case bool: "boolean"
        case bytea: "bytea"
        case char: "\"char\""
        case name: "name"
        case int8: "bigint"
        case int2: "smallint"
        case int4: "integer"
        case text: "text"
        case oid: "oid"
        case json: "json"
        case float4: "real"
        case float8: "double precision"
        case bpchar: "character"
        case varchar: "character varying"
        case date: "date"
        case timestamp: "timestamp"
        case timestamptz: "timestamptz"
        case interval: "interval"
        case numeric: "numeric"
        case uuid: "uuid"
        case jsonb: "jsonb"
        case boolArray: "boolean[]"
        case int2Array: "smallint[]"
        case int4Array: "integer[]"
        case textArray: "text[]"
        case varcharArray: "varchar[]"
        case int8Array: "bigint[]"
        case float8Array: "double precision[]"
        case timestamptzArray: "timestamptz[]"
        case uuidArray: "uuid[]"
        default: "type oid \(oid)"
        }
    }
}
