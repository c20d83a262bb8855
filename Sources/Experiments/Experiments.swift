// The Experiments module; see README.md's module map.
