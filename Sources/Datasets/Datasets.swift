// The Datasets module: specs (DatasetSpec), fetch (Fetcher), parsers (Parsers), prep (Prep), frequency blocks
// (Blocking), the embedded synthetic generator (SyntheticGenerator) and Table 1 / long-tail statistics
// (DatasetStatistics). See Sources/Datasets/README.md. Depends only on Foundation and Hashing.
