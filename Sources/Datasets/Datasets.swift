// The Datasets module; see README.md's module map.
