import ArgumentParser
import Foundation
import NIExperiments

/// `neuroninspect merge`: combines the result folders of `zoo --shard K/N` runs into one table, the same one
/// an unsharded run writes (`results.csv`, `results.json`, `index.html`).
struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "merge",
        abstract: "Combine the results of sharded zoo runs into one table.")

    @Option(help: "The zoo plan the shards ran.") var plan: String
    @Option(name: .customLong("from"), help: "A shard's output folder (repeat for each shard; shards may also share one folder).") var folders: [String]
    @Option(help: "Folder for the merged table.") var out: String
    @Flag(help: "Write the table even when results are missing.") var allowMissing = false

    func run() throws {
        guard !folders.isEmpty else { throw ValidationError("give at least one --from folder") }
        let p = try ZooPlan.load(URL(fileURLWithPath: plan))
        let (table, missing) = try ZooTable.collect(plan: p, from: folders.map { URL(fileURLWithPath: $0) })
        if !missing.isEmpty && !allowMissing {
            throw ValidationError("\(missing.count) result(s) missing, e.g. \(missing.prefix(3).joined(separator: "; ")): run the remaining shards, or pass --allow-missing")
        }
        let dir = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try writeTable(table, to: dir)
        print(table.summaryText)
        print("merged \(table.rows.count) result(s) from \(folders.count) folder(s) into \(out)")
    }
}
