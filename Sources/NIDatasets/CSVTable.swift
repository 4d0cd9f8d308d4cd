/// A small reader for the ';'-separated CSV files of GTSRB: a header row naming the columns, then one
/// record per line. Blank lines are skipped, a UTF-8 byte-order mark and '\r' line ends are accepted, and
/// fields are trimmed of spaces. Quoting is not supported (GTSRB does not use it).
struct CSVTable {
    /// One data row: its 1-based line number in the file and its fields.
    struct Row {
        let line: Int
        let fields: [Substring]
    }

    let path: String
    let header: [String]
    let rows: [Row]

    /// Parses `bytes` read from `path`.
    init(bytes: [UInt8], path: String, separator: Character = ";") throws(DatasetError) {
        var body = bytes[...]
        if body.starts(with: [0xEF, 0xBB, 0xBF]) { body = body.dropFirst(3) }   // UTF-8 byte-order mark
        var header: [String]? = nil
        var rows: [Row] = []
        var lineNumber = 0
        // Split on bytes: as Characters, "\r\n" is one grapheme and would not split on "\n".
        for rawLine in body.split(separator: 0x0A, omittingEmptySubsequences: false) {
            lineNumber += 1
            let lineBytes = rawLine.last == 0x0D ? rawLine.dropLast() : rawLine
            let line = String(decoding: lineBytes, as: UTF8.self)
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            let fields = line.split(separator: separator, omittingEmptySubsequences: false).map(CSVTable.trim)
            if header == nil {
                header = fields.map(String.init)
            } else {
                rows.append(Row(line: lineNumber, fields: fields))
            }
        }
        guard let header else { throw .badHeader(path: path, problem: "the CSV file is empty (no header row)") }
        self.path = path
        self.header = header
        self.rows = rows
    }

    /// Reads and parses a CSV file. `what` names the file's role in a not-found error.
    init(path: String, what: String) throws(DatasetError) {
        try self.init(bytes: FileIO.read(path, what: what), path: path)
    }

    /// The index of the column named `name` (exact match).
    func column(_ name: String) throws(DatasetError) -> Int {
        guard let i = header.firstIndex(of: name) else {
            throw .missingColumn(path: path, column: name, header: header)
        }
        return i
    }

    /// The field of `row` in column `column` (named `name` in errors); the row must be long enough.
    func field(_ row: Row, _ column: Int, _ name: String) throws(DatasetError) -> Substring {
        guard column < row.fields.count else {
            throw .badCSVRow(path: path, line: row.line, problem: "row has \(row.fields.count) fields, too few for "
                             + "column '\(name)' (the header has \(header.count))")
        }
        return row.fields[column]
    }

    /// The field of `row` in column `column` as an integer.
    func int(_ row: Row, _ column: Int, _ name: String) throws(DatasetError) -> Int {
        let text = try field(row, column, name)
        guard let value = Int(text) else {
            throw .badCSVRow(path: path, line: row.line, problem: "column '\(name)' holds '\(text)', not an integer")
        }
        return value
    }

    private static func trim(_ s: Substring) -> Substring {
        var t = s
        while let f = t.first, f == " " || f == "\t" { t.removeFirst() }
        while let l = t.last, l == " " || l == "\t" { t.removeLast() }
        return t
    }
}
