import Foundation

func figureFiles(_ name: String) -> [String] { ["dat", "gp", "png", "svg"].map { "\(name).\($0)" } }
func figurePublishes(_ name: String) -> [String: String] {
    Dictionary(uniqueKeysWithValues: figureFiles(name).map { ($0, "figures/\($0)") })
}

/// Error bar of a merged record: the standard deviation over seeds (nil with one seed).
func errorBar(_ r: EvaluationRecord, _ metric: Metric) -> Double? {
    r.values(metric).count > 1 ? r.sd(metric) : nil
}
