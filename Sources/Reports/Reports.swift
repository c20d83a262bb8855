// The Reports module; see README.md's module map.
