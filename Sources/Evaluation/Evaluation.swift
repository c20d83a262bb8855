// The Evaluation module; see README.md's module map.
