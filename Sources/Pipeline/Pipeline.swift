// The Pipeline module; see README.md's module map.
