import ArgumentParser

/// The `pipeline` command: every table and figure of the CpRec paper as one cached stage graph.
struct PipelineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "Reproduce the CpRec paper (SIGIR 2020): cached stages from raw data to tables and figures.",
        subcommands: [BenchCommand.self])
}

PipelineCommand.main()
