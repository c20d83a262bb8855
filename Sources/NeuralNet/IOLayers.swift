import Kernels

/// Frequency blocks over item ids: cumulative exclusive upper bounds (last = V) and each block's width
/// (widths[0] = d for the full-width head; tail block i has a narrower width).
public struct BlockLayout: Hashable, Sendable {
    public let bounds: [Int]
    public let widths: [Int]
    public var vocabulary: Int { bounds.last! }
    public var tailCount: Int { bounds.count - 1 }
    public func start(_ i: Int) -> Int { i == 0 ? 0 : bounds[i - 1] }
    public func size(_ i: Int) -> Int { bounds[i] - start(i) }

    public init(bounds: [Int], widths: [Int]) {
        precondition(!bounds.isEmpty && bounds.count == widths.count, "one width per block")
        precondition(zip(bounds, bounds.dropFirst()).allSatisfy { $0 < $1 } && bounds[0] > 0, "bounds must increase")
        self.bounds = bounds
        self.widths = widths
    }

    /// CpRec widths: head d, tail block i gets max(1, d / factor^i).
    public init(bounds: [Int], dim: Int, factor: Int) {
        var widths = [dim]
        var w = dim
        for _ in 1..<max(bounds.count, 1) {
            w /= max(factor, 1)
            widths.append(max(1, w))
        }
        self.init(bounds: bounds, widths: widths)
    }

    /// Index of the block holding `id`.
    @inlinable public func block(of id: Int) -> Int {
        var i = 0
        while id >= bounds[i] { i += 1 }
        return i
    }
}

/// Zero-filled Float buffers of fixed sizes, freed together: a model workspace's caches for one batch shape.
public final class FixedBuffers {
    private var owned: [FloatPtr] = []
    public init() {}
    deinit { for p in owned { p.deallocate() } }
    /// A new zero-filled buffer of n floats (at least one), owned until this object goes.
    public func make(_ n: Int) -> FloatPtr {
        let p = FloatPtr.allocate(capacity: max(n, 1))
        p.initialize(repeating: 0, count: max(n, 1))
        owned.append(p)
        return p
    }
}

/// A grow-only Float buffer: reused across steps so the hot path never allocates once shapes settle.
public final class ScratchBuffer {
    public private(set) var pointer: FloatPtr
    public private(set) var capacity: Int
    public init(_ capacity: Int = 0) {
        self.capacity = max(capacity, 1)
        pointer = .allocate(capacity: self.capacity)
        pointer.initialize(repeating: 0, count: self.capacity)
    }
    deinit { pointer.deallocate() }
    /// A buffer of at least n floats (contents unspecified after growth).
    public func reserve(_ n: Int) -> FloatPtr {
        if n > capacity {
            pointer.deallocate()
            capacity = max(n, capacity * 3 / 2)
            pointer = .allocate(capacity: capacity)
            pointer.initialize(repeating: 0, count: capacity)
        }
        return pointer
    }
}

/// Copies rows[i] of x (·, D) into out (i, D).
@inline(__always)
func gatherRows(_ out: FloatPtr, _ x: ConstFloatPtr, _ rows: [Int32], _ D: Int) {
    for (i, r) in rows.enumerated() { (out + i * D).update(from: x + Int(r) * D, count: D) }
}

/// Adds row i of x (i, D) into out (rows[i], D).
@inline(__always)
func scatterAddRows(_ out: FloatPtr, _ x: ConstFloatPtr, _ rows: [Int32], _ D: Int) {
    for (i, r) in rows.enumerated() { Kernels.addRow(out + Int(r) * D, x + i * D, D) }
}

/// The item-embedding side of a model: ids (N) → vectors (N, d).
public protocol InputLayer: AnyObject {
    var dim: Int { get }
    /// out (N, d) = embedding of ids (N); id 0 gives the zero vector.
    func forward(out: FloatPtr, ids: UnsafePointer<Int32>, N: Int)
    /// Adds into the parameter gradients; must follow a forward on the same ids.
    func backward(dout: ConstFloatPtr, ids: UnsafePointer<Int32>, N: Int)
}

/// The softmax side of a model: hidden vectors (N, d) → distribution over V items.
public protocol OutputLayer: AnyObject {
    var vocabulary: Int { get }
    /// Summed cross-entropy over counted rows; adds scale · gradient into dx (N, d) and the parameters.
    func lossForwardBackward(
        dx: FloatPtr, x: ConstFloatPtr, targets: UnsafePointer<Int32>, N: Int,
        maskPadding: Bool, scale: Float
    ) -> Double
    /// out (N, V): full probability distribution per row (sums to 1).
    func score(out: FloatPtr, x: ConstFloatPtr, N: Int)
    /// Scores in the same order as `score` without normalising them (a flat softmax's logits): what top-n needs.
    func logits(out: FloatPtr, x: ConstFloatPtr, N: Int)
    /// Top-n item ids per row (N × n, best first), never id 0.
    func topN(x: ConstFloatPtr, N: Int, n: Int) -> [Int32]
}

extension OutputLayer {
    /// Outputs whose scores are not one monotone map of logits (the tree softmax) rank by their scores.
    public func logits(out: FloatPtr, x: ConstFloatPtr, N: Int) { score(out: out, x: x, N: N) }

    /// Top-n from full scoring (the default for non-tree outputs), on the logits: a softmax does not change a row's
    /// order, so top-n needs no exponentials over the vocabulary.
    public func fullTopN(x: ConstFloatPtr, N: Int, n: Int, scratch: ScratchBuffer) -> [Int32] {
        let V = vocabulary
        let p = scratch.reserve(N * V)
        logits(out: p, x: x, N: N)
        var out = [Int32]()
        out.reserveCapacity(N * n)
        for r in 0..<N { out += Kernels.topK(p + r * V, V, k: n, excluding: 0) }
        return out
    }
}

// MARK: inputs

/// One V×d table (NextItNet's plain embedding).
public final class FullEmbedding: InputLayer {
    public let dim: Int, vocabulary: Int
    public let table: ParamRef
    let params: ParameterSet
    public init(_ params: ParameterSet, name: String, vocabulary: Int, dim: Int, initializer: Initializer) {
        self.params = params
        self.dim = dim
        self.vocabulary = vocabulary
        table = params.declare(name, [vocabulary, dim], .input, initializer)
    }
    public func forward(out: FloatPtr, ids: UnsafePointer<Int32>, N: Int) {
        Embedding.forward(out: out, ids: ids, table: params.value(table), N: N, D: dim)
    }
    public func backward(dout: ConstFloatPtr, ids: UnsafePointer<Int32>, N: Int) {
        Embedding.backward(dtable: params.grad(table), dout: dout, ids: ids, N: N, D: dim)
    }
}

/// CpRec block-wise adaptive input: head block a full-width table; tail block i a (K_i, w_i) table times a
/// (w_i, d) projection.
public final class AdaptiveInput: InputLayer {
    public let dim: Int
    public let layout: BlockLayout
    public let head: ParamRef
    public let tables: [ParamRef]
    public let projections: [ParamRef]
    let params: ParameterSet
    private var rows: [[Int32]]
    private var local: [[Int32]]
    private let gathered = ScratchBuffer(), projected = ScratchBuffer()

    public init(_ params: ParameterSet, prefix: String, layout: BlockLayout, dim: Int) {
        self.params = params
        self.dim = dim
        self.layout = layout
        head = params.declare("\(prefix).block0.table", [layout.bounds[0], dim], .input, .glorotUniform)
        var t = [ParamRef](), p = [ParamRef]()
        for i in 1..<layout.bounds.count {
            t.append(
                params.declare("\(prefix).block\(i).table", [layout.size(i), layout.widths[i]], .input, .glorotUniform))
            p.append(params.declare("\(prefix).block\(i).proj", [layout.widths[i], dim], .input, .glorotUniform))
        }
        tables = t
        projections = p
        rows = Array(repeating: [], count: layout.bounds.count)
        local = rows
    }

    /// Splits positions by block; tail blocks keep (position, id − block start).
    private func partition(_ ids: UnsafePointer<Int32>, _ N: Int) {
        for i in rows.indices { rows[i].removeAll(keepingCapacity: true); local[i].removeAll(keepingCapacity: true) }
        for n in 0..<N {
            let id = Int(ids[n])
            let b = layout.block(of: id)
            rows[b].append(Int32(n))
            local[b].append(Int32(id - layout.start(b)))
        }
    }

    public func forward(out: FloatPtr, ids: UnsafePointer<Int32>, N: Int) {
        partition(ids, N)
        let h = params.value(head)
        for (r, id) in zip(rows[0], local[0]) {
            let o = out + Int(r) * dim
            if id == 0 { o.update(repeating: 0, count: dim) } else { o.update(from: h + Int(id) * dim, count: dim) }
        }
        for i in 1..<layout.bounds.count where !rows[i].isEmpty {
            let w = layout.widths[i], m = rows[i].count
            let g = gathered.reserve(m * w), y = projected.reserve(m * dim)
            let tab = params.value(tables[i - 1])
            for (j, id) in local[i].enumerated() { (g + j * w).update(from: tab + Int(id) * w, count: w) }
            BLAS.gemm(m: m, n: dim, k: w, a: g, b: params.value(projections[i - 1]), c: y)
            for (j, r) in rows[i].enumerated() { (out + Int(r) * dim).update(from: y + j * dim, count: dim) }
        }
    }

    public func backward(dout: ConstFloatPtr, ids: UnsafePointer<Int32>, N: Int) {
        partition(ids, N)
        let dh = params.grad(head)
        for (r, id) in zip(rows[0], local[0]) where id != 0 {
            Kernels.addRow(dh + Int(id) * dim, dout + Int(r) * dim, dim)
        }
        for i in 1..<layout.bounds.count where !rows[i].isEmpty {
            let w = layout.widths[i], m = rows[i].count
            let g = gathered.reserve(m * (w + dim)), dy = g + m * w
            let dg = projected.reserve(m * w)
            let tab = params.value(tables[i - 1])
            for (j, id) in local[i].enumerated() { (g + j * w).update(from: tab + Int(id) * w, count: w) }
            gatherRows(dy, dout, rows[i], dim)
            BLAS.gemm(transA: true, m: w, n: dim, k: m, a: g, b: dy, beta: 1, c: params.grad(projections[i - 1]))
            BLAS.gemm(transB: true, m: m, n: w, k: dim, a: dy, b: params.value(projections[i - 1]), c: dg)
            let dt = params.grad(tables[i - 1])
            for (j, id) in local[i].enumerated() { Kernels.addRow(dt + Int(id) * w, dg + j * w, w) }
        }
    }
}

/// B1 low-rank input: (V, e) table times an (e, d) projection.
public final class LowRankEmbedding: InputLayer {
    public let dim: Int, rank: Int
    public let table: ParamRef, projection: ParamRef
    let params: ParameterSet
    private let gathered = ScratchBuffer(), dgathered = ScratchBuffer()

    public init(_ params: ParameterSet, prefix: String, vocabulary: Int, rank: Int, dim: Int) {
        self.params = params
        self.dim = dim
        self.rank = rank
        table = params.declare("\(prefix).table", [vocabulary, rank], .input, .glorotUniform)
        projection = params.declare("\(prefix).proj", [rank, dim], .input, .glorotUniform)
    }
    public func forward(out: FloatPtr, ids: UnsafePointer<Int32>, N: Int) {
        let g = gathered.reserve(N * rank)
        Embedding.forward(out: g, ids: ids, table: params.value(table), N: N, D: rank)
        BLAS.gemm(m: N, n: dim, k: rank, a: g, b: params.value(projection), c: out)
    }
    public func backward(dout: ConstFloatPtr, ids: UnsafePointer<Int32>, N: Int) {
        let g = gathered.reserve(N * rank), dg = dgathered.reserve(N * rank)
        Embedding.forward(out: g, ids: ids, table: params.value(table), N: N, D: rank)
        BLAS.gemm(transA: true, m: rank, n: dim, k: N, a: g, b: dout, beta: 1, c: params.grad(projection))
        BLAS.gemm(transB: true, m: N, n: rank, k: dim, a: dout, b: params.value(projection), c: dg)
        Embedding.backward(dtable: params.grad(table), dout: dg, ids: ids, N: N, D: rank)
    }
}

// MARK: outputs

func softmaxChunk(_ N: Int, _ V: Int) -> Int { SoftmaxCrossEntropy.chunkRows(N: N, V: V) }

/// Full softmax: logits = x · W + b over all V items (W (d, V), b (V)).
public final class FullSoftmax: OutputLayer {
    public let dim: Int, vocabulary: Int
    public let weight: ParamRef, bias: ParamRef
    let params: ParameterSet
    private let scratch = ScratchBuffer(), losses = ScratchBuffer()

    public init(_ params: ParameterSet, prefix: String, vocabulary: Int, dim: Int) {
        self.params = params
        self.dim = dim
        self.vocabulary = vocabulary
        weight = params.declare("\(prefix).w", [dim, vocabulary], .output, .normal(std: 0.01))
        bias = params.declare("\(prefix).b", [vocabulary], .output, .constant(0.1))
    }
    public func lossForwardBackward(
        dx: FloatPtr, x: ConstFloatPtr, targets: UnsafePointer<Int32>, N: Int,
        maskPadding: Bool, scale: Float
    ) -> Double {
        let chunk = softmaxChunk(N, vocabulary)
        return SoftmaxCrossEntropy.linearForwardBackward(
            dx: dx, dw: params.grad(weight), dbias: params.grad(bias),
            scratch: scratch.reserve(chunk * vocabulary), lossScratch: losses.reserve(chunk), chunk: chunk,
            x: x, w: params.value(weight), bias: params.value(bias), targets: targets,
            N: N, D: dim, V: vocabulary, maskPadding: maskPadding, scale: scale)
    }
    public func score(out: FloatPtr, x: ConstFloatPtr, N: Int) {
        logits(out: out, x: x, N: N)
        Kernels.softmaxRows(out, out, rows: N, cols: vocabulary)
    }
    public func logits(out: FloatPtr, x: ConstFloatPtr, N: Int) {
        Linear.forward(out: out, x: x, w: params.value(weight), bias: params.value(bias), N: N, C: dim, O: vocabulary)
    }
    public func topN(x: ConstFloatPtr, N: Int, n: Int) -> [Int32] { fullTopN(x: x, N: N, n: n, scratch: scratch) }
}

/// Output scores from the input embedding table E (V, d): logits = x · Eᵀ, no bias and no parameters of its own
/// (Kang & McAuley's SASRec predicts with its item embedding). The gradient of the loss reaches E through here
/// and through the input lookup, and the two add up in one gradient slice.
public final class TiedSoftmax: OutputLayer {
    public let dim: Int, vocabulary: Int
    public let table: ParamRef
    let params: ParameterSet
    private let scratch = ScratchBuffer(), losses = ScratchBuffer()

    public init(_ params: ParameterSet, table: ParamRef, vocabulary: Int, dim: Int) {
        precondition(
            params.specs[table.index].shape == [vocabulary, dim], "a tied output needs a (vocabulary, dim) table")
        self.params = params
        self.table = table
        self.vocabulary = vocabulary
        self.dim = dim
    }
    public func lossForwardBackward(
        dx: FloatPtr, x: ConstFloatPtr, targets: UnsafePointer<Int32>, N: Int,
        maskPadding: Bool, scale: Float
    ) -> Double {
        let V = vocabulary, D = dim, chunk = softmaxChunk(N, V)
        let e = params.value(table), de = params.grad(table)
        let logits = scratch.reserve(chunk * V), lossRows = losses.reserve(chunk)
        var total = 0.0, start = 0
        while start < N {
            let rows = min(chunk, N - start)
            let xc = x + start * D
            BLAS.gemm(transB: true, m: rows, n: V, k: D, a: xc, b: e, beta: 0, c: logits)
            // Turns the logits into scale · (softmax − one-hot) in place.
            total += SoftmaxCrossEntropy.forwardBackwardInPlace(
                losses: lossRows, logits: logits, targets: targets + start,
                N: rows, V: V, maskPadding: maskPadding, scale: scale)
            BLAS.gemm(transA: true, m: V, n: D, k: rows, a: logits, b: xc, beta: 1, c: de)
            BLAS.gemm(m: rows, n: D, k: V, a: logits, b: e, beta: 1, c: dx + start * D)
            start += rows
        }
        return total
    }
    public func score(out: FloatPtr, x: ConstFloatPtr, N: Int) {
        logits(out: out, x: x, N: N)
        Kernels.softmaxRows(out, out, rows: N, cols: vocabulary)
    }
    public func logits(out: FloatPtr, x: ConstFloatPtr, N: Int) {
        BLAS.gemm(transB: true, m: N, n: vocabulary, k: dim, a: x, b: params.value(table), beta: 0, c: out)
    }
    public func topN(x: ConstFloatPtr, N: Int, n: Int) -> [Int32] { fullTopN(x: x, N: N, n: n, scratch: scratch) }
}

/// B1 low-rank softmax: logits = (x · P) · W + b with P (d, e), W (e, V), b (V).
public final class LowRankSoftmax: OutputLayer {
    public let dim: Int, rank: Int, vocabulary: Int
    public let projection: ParamRef, weight: ParamRef, bias: ParamRef
    let params: ParameterSet
    private let z = ScratchBuffer(), dz = ScratchBuffer(), scratch = ScratchBuffer(), losses = ScratchBuffer()

    public init(_ params: ParameterSet, prefix: String, vocabulary: Int, rank: Int, dim: Int) {
        self.params = params
        self.dim = dim
        self.rank = rank
        self.vocabulary = vocabulary
        projection = params.declare("\(prefix).proj", [dim, rank], .output, .glorotUniform)
        weight = params.declare("\(prefix).w", [rank, vocabulary], .output, .normal(std: 0.01))
        bias = params.declare("\(prefix).b", [vocabulary], .output, .constant(0.1))
    }
    public func lossForwardBackward(
        dx: FloatPtr, x: ConstFloatPtr, targets: UnsafePointer<Int32>, N: Int,
        maskPadding: Bool, scale: Float
    ) -> Double {
        let zp = z.reserve(N * rank), dzp = dz.reserve(N * rank)
        BLAS.gemm(m: N, n: rank, k: dim, a: x, b: params.value(projection), c: zp)
        dzp.update(repeating: 0, count: N * rank)
        let chunk = softmaxChunk(N, vocabulary)
        let loss = SoftmaxCrossEntropy.linearForwardBackward(
            dx: dzp, dw: params.grad(weight), dbias: params.grad(bias),
            scratch: scratch.reserve(chunk * vocabulary), lossScratch: losses.reserve(chunk), chunk: chunk,
            x: zp, w: params.value(weight), bias: params.value(bias), targets: targets,
            N: N, D: rank, V: vocabulary, maskPadding: maskPadding, scale: scale)
        Linear.backward(
            dx: dx, dw: params.grad(projection), dbias: nil, dout: dzp, x: x, w: params.value(projection),
            N: N, C: dim, O: rank)
        return loss
    }
    public func score(out: FloatPtr, x: ConstFloatPtr, N: Int) {
        logits(out: out, x: x, N: N)
        Kernels.softmaxRows(out, out, rows: N, cols: vocabulary)
    }
    public func logits(out: FloatPtr, x: ConstFloatPtr, N: Int) {
        let zp = z.reserve(N * rank)
        BLAS.gemm(m: N, n: rank, k: dim, a: x, b: params.value(projection), c: zp)
        Linear.forward(out: out, x: zp, w: params.value(weight), bias: params.value(bias), N: N, C: rank, O: vocabulary)
    }
    public func topN(x: ConstFloatPtr, N: Int, n: Int) -> [Int32] { fullTopN(x: x, N: N, n: n, scratch: scratch) }
}

/// How the tree softmax's fast top-N decides which tail blocks to score for a row.
public enum TopNPruning: String, Codable, Hashable, Sendable, CaseIterable {
    /// Blocks in descending cluster probability; block i is skipped once p(cluster i) is below the row's current
    /// n-th best probability (every item of block i has probability ≤ p(cluster i)). Equals full scoring.
    case exact
    /// The authors' rule: block i is scored only when its cluster token ranks inside the head's top n. Cheaper,
    /// but an item of a skipped block can belong in the top n, so the list can differ from full scoring.
    case approximate
    /// Every block scored for every row (no pruning): what a trained model with heavy clusters costs at worst.
    case off
}

/// CpRec block-wise (two-level tree) softmax. Head: x · H, H (d, b1 + tails): the b1 head items then one
/// cluster token per tail block. Tail block i: (x · P_i) · W_i with P_i (d, w_i), W_i (w_i, K_i). No biases.
/// log p(item in tail i) = log p_head(cluster i) + log p_i(item).
public final class TreeSoftmax: OutputLayer {
    public let dim: Int
    public let layout: BlockLayout
    public let head: ParamRef
    public let projections: [ParamRef]
    public let weights: [ParamRef]
    public var vocabulary: Int { layout.vocabulary }
    /// Which tail blocks `topN` scores: `.exact` (default) equals full scoring; `.approximate` is the authors' rule.
    public var pruning: TopNPruning = .exact
    /// (row, tail block) pairs evaluated by the last `topN` call: the fast path's saving is visible here.
    public private(set) var lastTailEvaluations = 0
    /// (row, tail block) pairs the last `topN` call could have evaluated (rows × tail blocks).
    public private(set) var lastTailPairs = 0
    let params: ParameterSet
    private var headWidth: Int { layout.bounds[0] + layout.tailCount }
    private let headBuf = ScratchBuffer(), losses = ScratchBuffer()
    private let xg = ScratchBuffer(), zb = ScratchBuffer(), lb = ScratchBuffer(), dxg = ScratchBuffer()
    private var headTargets = [Int32](), rows = [Int32](), local = [Int32]()

    public init(_ params: ParameterSet, prefix: String, layout: BlockLayout, dim: Int) {
        self.params = params
        self.dim = dim
        self.layout = layout
        head = params.declare("\(prefix).head", [dim, layout.bounds[0] + layout.tailCount], .output, .glorotUniform)
        var p = [ParamRef](), w = [ParamRef]()
        for i in 1..<layout.bounds.count {
            p.append(params.declare("\(prefix).block\(i).proj", [dim, layout.widths[i]], .output, .glorotUniform))
            w.append(
                params.declare("\(prefix).block\(i).w", [layout.widths[i], layout.size(i)], .output, .glorotUniform))
        }
        projections = p
        weights = w
    }

    public func lossForwardBackward(
        dx: FloatPtr, x: ConstFloatPtr, targets: UnsafePointer<Int32>, N: Int,
        maskPadding: Bool, scale: Float
    ) -> Double {
        let H = headWidth, b1 = layout.bounds[0]
        headTargets.removeAll(keepingCapacity: true)
        for n in 0..<N {
            let t = Int(targets[n])
            headTargets.append(Int32(t < b1 ? t : b1 + layout.block(of: t) - 1))
        }
        // The head is a plain linear softmax: chunked like FullSoftmax so its logits stay cache-resident.
        let chunk = softmaxChunk(N, H)
        var total = headTargets.withUnsafeBufferPointer { ht in
            SoftmaxCrossEntropy.linearForwardBackward(
                dx: dx, dw: params.grad(head), dbias: nil, scratch: headBuf.reserve(chunk * H),
                lossScratch: losses.reserve(chunk), chunk: chunk, x: x, w: params.value(head), bias: nil,
                targets: ht.baseAddress!, N: N, D: dim, V: H, maskPadding: maskPadding, scale: scale)
        }
        for i in 1..<layout.bounds.count {
            rows.removeAll(keepingCapacity: true)
            local.removeAll(keepingCapacity: true)
            let lo = layout.start(i), hi = layout.bounds[i]
            for n in 0..<N {
                let t = Int(targets[n])
                if t >= lo && t < hi { rows.append(Int32(n)); local.append(Int32(t - lo)) }
            }
            if rows.isEmpty { continue }
            let m = rows.count, w = layout.widths[i], K = layout.size(i)
            let P = params.value(projections[i - 1]), W = params.value(weights[i - 1])
            let xs = xg.reserve(m * dim), z = zb.reserve(m * 2 * w), dz = z + m * w, l = lb.reserve(m * K)
            gatherRows(xs, x, rows, dim)
            BLAS.gemm(m: m, n: w, k: dim, a: xs, b: P, c: z)
            BLAS.gemm(m: m, n: K, k: w, a: z, b: W, c: l)
            local.withUnsafeBufferPointer { lt in
                total += SoftmaxCrossEntropy.forwardBackwardInPlace(
                    losses: losses.reserve(m), logits: l, targets: lt.baseAddress!, N: m, V: K,
                    maskPadding: false, scale: scale)
            }
            BLAS.gemm(transA: true, m: w, n: K, k: m, a: z, b: l, beta: 1, c: params.grad(weights[i - 1]))
            BLAS.gemm(transB: true, m: m, n: w, k: K, a: l, b: W, c: dz)
            BLAS.gemm(transA: true, m: dim, n: w, k: m, a: xs, b: dz, beta: 1, c: params.grad(projections[i - 1]))
            let dxs = dxg.reserve(m * dim)
            BLAS.gemm(transB: true, m: m, n: dim, k: w, a: dz, b: P, c: dxs)
            scatterAddRows(dx, dxs, rows, dim)
        }
        return total
    }

    public func score(out: FloatPtr, x: ConstFloatPtr, N: Int) {
        let H = headWidth, b1 = layout.bounds[0], V = vocabulary
        let hl = headBuf.reserve(N * H)
        Linear.forward(out: hl, x: x, w: params.value(head), bias: nil, N: N, C: dim, O: H)
        Kernels.softmaxRows(hl, hl, rows: N, cols: H)
        for n in 0..<N { (out + n * V).update(from: hl + n * H, count: b1) }
        for i in 1..<layout.bounds.count {
            let w = layout.widths[i], K = layout.size(i), lo = layout.start(i)
            let z = zb.reserve(N * w)
            BLAS.gemm(m: N, n: w, k: dim, a: x, b: params.value(projections[i - 1]), c: z)
            BLAS.gemm(m: N, n: K, k: w, a: z, b: params.value(weights[i - 1]), c: out + lo, ldc: V)
            for n in 0..<N {
                let row = out + n * V + lo
                _ = Kernels.softmaxRowInPlace(row, K)
                Kernels.scale(row, hl[n * H + b1 + i - 1], K)
            }
        }
    }

    /// Top-n per row (N × n ids, best first, never 0) by the `pruning` rule; `lastTailEvaluations` and
    /// `lastTailPairs` say how many (row, tail block) evaluations it made out of how many possible.
    public func topN(x: ConstFloatPtr, N: Int, n: Int) -> [Int32] {
        let H = headWidth, b1 = layout.bounds[0]
        let n = min(n, vocabulary - 1)  // as full scoring: at most every non-padding item
        let hl = headBuf.reserve(N * H)
        Linear.forward(out: hl, x: x, w: params.value(head), bias: nil, N: N, C: dim, O: H)
        Kernels.softmaxRows(hl, hl, rows: N, cols: H)
        lastTailEvaluations = 0
        lastTailPairs = N * layout.tailCount
        var cand = [[(Float, Int32)]](repeating: [], count: N)
        switch pruning {
        case .exact, .off:
            // Head items first: they fix each row's n-th best probability before any tail block is scored.
            var order = [[Int]](repeating: [], count: N)
            for r in 0..<N {
                let row = hl + r * H
                for e in Kernels.topK(row, b1, k: n, excluding: 0) { cand[r].append((row[Int(e)], e)) }
                let pc = { (i: Int) in row[b1 + i - 1] }
                order[r] = (1..<layout.bounds.count).sorted { pc($0) != pc($1) ? pc($0) > pc($1) : $0 < $1 }
            }
            // Round k scores every live row's k-th most probable block, grouped by block so each block is one GEMM.
            // A row whose k-th cluster probability is below its n-th best is done: no later block can do better.
            var live = Array(0..<N)
            for k in 0..<layout.tailCount where !live.isEmpty {
                var need = [[Int32]](repeating: [], count: layout.bounds.count)
                live = live.filter { r in
                    let i = order[r][k]
                    let bound = hl[r * H + b1 + i - 1] * Self.probabilityBoundSlack
                    if pruning == .exact && cand[r].count == n && bound < cand[r][n - 1].0 { return false }
                    need[i].append(Int32(r))
                    return true
                }
                for i in 1..<layout.bounds.count where !need[i].isEmpty {
                    evaluateTail(i, rows: need[i], x: x, hl: hl, n: n, into: &cand)
                }
            }
        case .approximate:
            var need = [[Int32]](repeating: [], count: layout.bounds.count)
            for r in 0..<N {
                let row = hl + r * H
                for e in Kernels.topK(row, H, k: n, excluding: 0) {
                    if Int(e) < b1 {
                        Self.insert((row[Int(e)], e), into: &cand[r], n: n)
                    } else {
                        need[Int(e) - b1 + 1].append(Int32(r))
                    }
                }
            }
            for i in 1..<layout.bounds.count where !need[i].isEmpty {
                evaluateTail(i, rows: need[i], x: x, hl: hl, n: n, into: &cand)
            }
        }
        var out = [Int32]()
        out.reserveCapacity(N * n)
        for r in 0..<N {
            let best = cand[r]
            out += best.map(\.1)
            // Fewer candidates than n only when n exceeds the evaluated items; pad deterministically.
            var fill: Int32 = 1
            while out.count < (r + 1) * n {
                if !best.contains(where: { $0.1 == fill }) { out.append(fill) }
                fill += 1
            }
        }
        return out
    }

    /// An item's probability is its cluster's times a within-block softmax value that the row kernel's rounding
    /// can push about one ulp above 1; skipping only below cluster × (1 + 1e-6) keeps the exact rule exact.
    static let probabilityBoundSlack: Float = 1 + 1e-6

    /// Scores tail block i for `rows` and merges each row's n best items into its candidates. Probabilities are
    /// formed exactly as `score` forms them (softmax, then × cluster) before ranking, so ties and rounding match
    /// full scoring.
    private func evaluateTail(
        _ i: Int, rows: [Int32], x: ConstFloatPtr, hl: ConstFloatPtr, n: Int,
        into cand: inout [[(Float, Int32)]]
    ) {
        let H = headWidth, b1 = layout.bounds[0]
        let m = rows.count, w = layout.widths[i], K = layout.size(i), lo = layout.start(i)
        lastTailEvaluations += m
        let xs = xg.reserve(m * dim), z = zb.reserve(m * w), l = lb.reserve(m * K)
        gatherRows(xs, x, rows, dim)
        BLAS.gemm(m: m, n: w, k: dim, a: xs, b: params.value(projections[i - 1]), c: z)
        BLAS.gemm(m: m, n: K, k: w, a: z, b: params.value(weights[i - 1]), c: l)
        for (j, r) in rows.enumerated() {
            let row = l + j * K
            _ = Kernels.softmaxRowInPlace(row, K)
            Kernels.scale(row, hl[Int(r) * H + b1 + i - 1], K)
            for e in Kernels.topK(row, K, k: n) { Self.insert((row[Int(e)], Int32(lo) + e), into: &cand[Int(r)], n: n) }
        }
    }

    /// Inserts into a best-first list (higher probability, then lower id: the full ranking's tie rule), keeping n.
    private static func insert(_ c: (Float, Int32), into list: inout [(Float, Int32)], n: Int) {
        var pos = list.count
        while pos > 0 && (c.0 > list[pos - 1].0 || (c.0 == list[pos - 1].0 && c.1 < list[pos - 1].1)) { pos -= 1 }
        if pos >= n { return }
        list.insert(c, at: pos)
        if list.count > n { list.removeLast() }
    }
}
