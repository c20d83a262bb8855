import Datasets
import Foundation
import Pipeline

/// Options that select which experiments the graph holds and where results go.
public struct ExperimentOptions: Sendable {
    /// Profile name from `pipeline/profiles.yaml` (smoke, default, movielens, paper).
    public var profile: String
    /// Folder holding the declarative specs (`pipeline/` at the repository root).
    public var specDirectory: URL
    /// Where `paper-tables/`, `figures/` and REPORT.md are published.
    public var outputRoot: URL
    /// User-placed files for datasets that cannot be downloaded: dataset name -> file.
    public var sources: [String: URL]
    /// Base URL every download is fetched from instead of its upstream host (`--mirror`, `CPREC_MIRROR`).
    public var mirror: String?

    public init(
        profile: String, specDirectory: URL, outputRoot: URL, sources: [String: URL] = [:], mirror: String? = nil
    ) {
        self.profile = profile
        self.specDirectory = specDirectory
        self.outputRoot = outputRoot
        self.sources = sources
        self.mirror = mirror
    }

    /// Environment variable naming a mirror when `--mirror` is not given.
    public static let mirrorEnvironmentVariable = FetchOptions.mirrorEnvironmentVariable

    /// The mirror to use (`option`, else $CPREC_MIRROR, else none), checked to be an absolute URL.
    public static func resolveMirror(
        option: String?, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> String? {
        guard let m = FetchOptions.resolveMirror(option: option, environment: environment) else { return nil }
        do {
            _ = try FetchOptions(downloadDirectory: URL(fileURLWithPath: "/"), mirror: m).resolve(
                "https://example.org/file.zip")
        } catch {
            throw ExperimentError("mirror (--mirror or $\(mirrorEnvironmentVariable)): \(error)")
        }
        return m
    }
}

/// The paper as a stage graph: which runs each table and figure needs.
public enum Paper {
    /// Every stage of the selected profile (built from the specs; validated on load).
    public static func graph(_ options: ExperimentOptions) throws -> [any Stage] {
        let specs = try SpecBundle.load(options.specDirectory)
        let catalog = try DatasetCatalog.load(options.specDirectory)
        let profile = try specs.profile(options.profile)
        try specs.checkDatasets(in: catalog)
        // Read again by the table and report stages; checked here so a bad file fails before any stage runs.
        _ = try PaperValues.load(options.specDirectory.appendingPathComponent("paper-values.yaml"))
        for v in try LiteratureValues.load(in: options.specDirectory)?.values ?? [] {
            if catalog.entries[v.dataset] == nil {
                throw ExperimentError(
                    "\(LiteratureValues.fileName): unknown dataset '\(v.dataset)'\(didYouMean(v.dataset, catalog.order)); datasets are declared in datasets.yaml"
                )
            }
            if specs.models[v.model] == nil {
                throw ExperimentError(
                    "\(LiteratureValues.fileName): unknown model '\(v.model)'\(didYouMean(v.model, specs.models.keys.sorted())); models are declared in models.yaml"
                )
            }
        }
        let claims = try ClaimSpecFile.load(options.specDirectory.appendingPathComponent("claims.yaml"))
        for m in claims.models where specs.models[m] == nil {
            throw ExperimentError(
                "claims.yaml: unknown model '\(m)'\(didYouMean(m, specs.models.keys.sorted())); models are declared in models.yaml"
            )
        }
        for (name, _) in options.sources where catalog.entries[name] == nil {
            throw ExperimentError(
                "--source \(name)=…: unknown dataset '\(name)'; declared: \(catalog.order.joined(separator: ", "))")
        }
        var builder = GraphBuilder(
            specs: specs, catalog: catalog, profile: profile, options: options,
            timing: TimingPlan(specs: specs, profile: profile, claims: claims))
        try builder.build()
        return builder.stages
    }

    /// Profiles declared in the specs, with a one-line summary each (for `pipeline --help`).
    public static func profiles(specDirectory: URL) throws -> [(name: String, summary: String)] {
        let specs = try SpecBundle.load(specDirectory)
        return specs.profileOrder.map { ($0, specs.profiles[$0]!.summary) }
    }
}
