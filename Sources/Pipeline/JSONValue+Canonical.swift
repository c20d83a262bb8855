import Foundation

// MARK: - Building JSON values

extension JSONValue {
    /// Converts any Encodable (e.g. a stage's Codable parameter struct) into a JSON value.
    ///
    /// Numbers become Doubles, so integers beyond 2^53 lose precision; keep such values (hashes) as strings.
    public init<T: Encodable>(encoding value: T) throws {
        let data = try JSONEncoder().encode(value)
        self = try JSONDecoder().decode(JSONValue.self, from: data)
    }

    /// Decodes this value into a Decodable type (the inverse of `init(encoding:)`).
    public func decode<T: Decodable>(as type: T.Type = T.self) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(canonicalString.utf8))
    }

    /// Member lookup for objects; nil for other values or absent keys.
    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }
}

extension JSONValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        var o: [String: JSONValue] = [:]
        for (k, v) in elements { o[k] = v }
        self = .object(o)
    }
}

// MARK: - Canonical form

extension JSONValue: CustomStringConvertible {
    /// Canonical JSON: object keys sorted by their UTF-8 bytes, no whitespace, integral numbers without
    /// a fraction, other numbers in Swift's shortest round-trip form. Equal values give equal strings.
    public var canonicalString: String {
        var out = ""
        JSONValue.write(self, into: &out)
        return out
    }

    public var description: String { canonicalString }

    /// Canonical text of one number; non-finite values (not valid JSON) become strings.
    static func formatNumber(_ d: Double) -> String {
        if d.isNaN { return "\"NaN\"" }
        if d.isInfinite { return d < 0 ? "\"-Infinity\"" : "\"Infinity\"" }
        if d == d.rounded(), abs(d) < 9_007_199_254_740_992 {
            return String(Int64(d))  // also maps -0.0 to 0
        }
        return "\(d)"
    }

    private static func write(_ v: JSONValue, into out: inout String) {
        switch v {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let d): out += formatNumber(d)
        case .string(let s): writeString(s, into: &out)
        case .array(let a):
            out += "["
            for (i, e) in a.enumerated() {
                if i > 0 { out += "," }
                write(e, into: &out)
            }
            out += "]"
        case .object(let o):
            out += "{"
            // Byte order rather than String's Unicode order, so other tools can reproduce the hash.
            let keys = o.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
            for (i, k) in keys.enumerated() {
                if i > 0 { out += "," }
                writeString(k, into: &out)
                out += ":"
                write(o[k]!, into: &out)
            }
            out += "}"
        }
    }

    private static func writeString(_ s: String, into out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    out += String(format: "\\u%04x", u.value)
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }
}

// MARK: - Differences

/// One leaf-level difference between two JSON values, named by its path (e.g. `model.dilations[2]`).
public struct JSONChange: Equatable, Sendable, CustomStringConvertible {
    public var path: String
    public var old: JSONValue?
    public var new: JSONValue?

    public var description: String {
        let name = path.isEmpty ? "(whole value)" : path
        switch (old, new) {
        case (nil, let n?): return "\(name) added (= \(n))"
        case (let o?, nil): return "\(name) removed (was \(o))"
        case (let o?, let n?): return "\(name): \(o) -> \(n)"
        default: return name
        }
    }
}

extension JSONValue {
    /// Leaf-level differences from `old` to `self`, in path order.
    public func changes(from old: JSONValue) -> [JSONChange] {
        var out: [JSONChange] = []
        JSONValue.diff(old, self, path: "", into: &out)
        return out
    }

    private static func diff(_ a: JSONValue?, _ b: JSONValue?, path: String, into out: inout [JSONChange]) {
        switch (a, b) {
        case (.object(let x)?, .object(let y)?):
            for k in Set(x.keys).union(y.keys).sorted() {
                diff(x[k], y[k], path: path.isEmpty ? k : "\(path).\(k)", into: &out)
            }
        case (.array(let x)?, .array(let y)?) where x.count == y.count:
            for i in 0..<x.count { diff(x[i], y[i], path: "\(path)[\(i)]", into: &out) }
        default:
            if a?.canonicalString != b?.canonicalString { out.append(JSONChange(path: path, old: a, new: b)) }
        }
    }
}
