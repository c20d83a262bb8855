// swift-tools-version:6.0
import PackageDescription

// The hot kernels alone are built with -Ounchecked in release (bounds and overflow checks in their inner loops
// cost 2-5x); every other target keeps its preconditions (shapes, tying) in release, where the tests run.
let fast: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]

let package = Package(
    name: "cprec-repro",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "pipeline", targets: ["PipelineCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        // C libraries from Debian (installed by scripts/bootstrap.sh); no build time.
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .systemLibrary(name: "CCrypto", path: "Sources/CCrypto"),

        // The worker pool and the AVX-512/AVX2 elementwise loops (target clones picked at load time).
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3"])]),
        .target(name: "Hashing", dependencies: ["CCrypto"]),
        // Child processes tracked so SIGINT/SIGTERM reach them (curl, unzip, gnuplot, git, sbatch).
        .target(name: "Subprocess"),
        // The seeded generator, dependency-free so data preparation does not link BLAS to shuffle.
        .target(name: "Random"),
        .target(name: "Kernels", dependencies: ["CBLAS", "CKernels", "Random"], swiftSettings: fast),
        .target(name: "NeuralNet", dependencies: ["Kernels"]),
        .target(name: "Models", dependencies: ["NeuralNet", "Kernels"]),
        .target(name: "Datasets", dependencies: ["Hashing", "Random", "Subprocess"], exclude: ["README.md"]),
        // Ranking metrics, inference timing, parameter counts: how a trained model is judged.
        .target(name: "Evaluation", dependencies: ["Models", "Kernels", "Random"]),
        // The epoch loop (early stopping, resume, non-finite guard) and transfer fine-tuning.
        .target(name: "Training", dependencies: ["Evaluation", "Models", "NeuralNet", "Kernels", "Random"]),
        // `pipeline bench`: fixed training cases timed on synthetic batches.
        .target(name: "Benchmarks", dependencies: ["Models", "NeuralNet", "Kernels", "Random"]),
        .target(name: "Pipeline", dependencies: ["Hashing", "Subprocess"]),
        .target(name: "Reports", dependencies: ["Subprocess"]),
        .target(name: "Experiments", dependencies: [
            "Pipeline", "Reports", "Datasets", "Models", "Evaluation", "Training", "NeuralNet", "Kernels", "Random",
            .product(name: "Yams", package: "Yams"),
        ]),
        .executableTarget(name: "PipelineCLI", dependencies: [
            "Experiments", "Pipeline", "Subprocess", "Benchmarks", "Kernels",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "KernelsTests", dependencies: ["Kernels"]),
        .testTarget(name: "NeuralNetTests", dependencies: ["NeuralNet", "Kernels"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "Evaluation", "Training", "Benchmarks", "NeuralNet", "Kernels"]),
        // Helpers more than one test target needs (the local HTTP server).
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "Hashing", "Random", "TestSupport"]),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "Hashing", "Subprocess"]),
        .testTarget(name: "ReportsTests", dependencies: ["Reports"], resources: [.copy("Golden")]),
        .testTarget(name: "ExperimentsTests", dependencies: ["Experiments", "Pipeline", "Reports", "Kernels", "Training", "Datasets", "TestSupport"]),
        // Runs the built `pipeline` binary (exit codes, JSON, signals); no module of its own to import.
        .testTarget(name: "PipelineCLITests"),
    ],
    swiftLanguageModes: [.v5]
)
