// Every numeric module draws its randomness from `Random.Rng`; re-exported so `import Kernels` is enough.
@_exported import Random
