import CSuiteSparse

/// A sparse symmetric positive definite system `M X = B`, solved by SuiteSparse's CHOLMOD
/// (a simplicial Cholesky factorisation after an AMD fill-reducing ordering).
///
/// Why CHOLMOD: ROAD's linear imputation solves one system per perturbed image, with one unknown
/// per removed pixel (up to 45,000 on a 224×224 image with 90 % removed) and several right-hand
/// sides (the colour channels); the matrix is a graph Laplacian plus a positive diagonal, so a
/// Cholesky factorisation is exact and fast where a hand-written iteration would be neither.
struct SparseSymmetricSystem {
    /// The order of `M`.
    let order: Int
    /// Compressed columns of the lower triangle of `M`: column `j`'s entries are
    /// `rowIndices[columnStarts[j]..<columnStarts[j + 1]]`, rows `≥ j`, sorted.
    private(set) var columnStarts: [Int32] = [0]
    private(set) var rowIndices: [Int32] = []
    private(set) var values: [Double] = []

    /// An empty system of order `order`; add its columns in order with `appendColumn`.
    init(order: Int) {
        self.order = order
        columnStarts.reserveCapacity(order + 1)
    }

    /// Appends the next column's lower-triangle entries (row ≥ the column), in any order.
    mutating func appendColumn(_ entries: [(row: Int, value: Double)]) {
        for entry in entries.sorted(by: { $0.row < $1.row }) {
            rowIndices.append(Int32(entry.row))
            values.append(entry.value)
        }
        columnStarts.append(Int32(rowIndices.count))
    }

    /// Solves `M X = B` for `B` with `order` rows and `columns` columns, column-major; returns `X`
    /// the same way. Throws when `M` is not positive definite (a removed region with no kept pixel
    /// around it has nothing to be imputed from).
    func solve(_ b: [Double], columns: Int) throws -> [Double] {
        precondition(columnStarts.count == order + 1, "the system has \(columnStarts.count - 1) of its \(order) columns")
        precondition(b.count == order * columns, "right-hand side of \(b.count) values for \(order) × \(columns)")
        guard order > 0 else { return [] }
        var common = cholmod_common()
        guard cholmod_start(&common) != 0 else { throw RuntimeError("the sparse solver (CHOLMOD) could not start") }
        // Library code never writes to the terminal: CHOLMOD's own error printing is off, and
        // its failures are read from the status and turned into errors.
        common.print = 0
        // A simplicial factorisation: the supernodal one hands small dense blocks to a threaded
        // BLAS, whose thread start-ups cost more than the blocks (measured: a third of ROAD's time
        // in OpenBLAS's exec_blas_async and sched_yield on ResNet-50 maps; simplicial: 2.1–2.7 s
        // against 3.2 s for ROAD combined). CHOLMOD's default AMD ordering stays: METIS's nested
        // dissection costs more to compute than it saves here (3.1 s).
        common.supernodal = Int32(CHOLMOD_SIMPLICIAL)
        defer { cholmod_finish(&common) }

        guard let matrix = cholmod_allocate_sparse(order, order, rowIndices.count, 1, 1, -1, CHOLMOD_REAL, &common) else {
            throw RuntimeError("the sparse solver (CHOLMOD) could not allocate a \(order) × \(order) matrix with \(rowIndices.count) entries")
        }
        var matrixPointer: UnsafeMutablePointer<cholmod_sparse>? = matrix
        defer { cholmod_free_sparse(&matrixPointer, &common) }
        Self.copy(columnStarts, to: matrix.pointee.p)
        Self.copy(rowIndices, to: matrix.pointee.i)
        Self.copy(values, to: matrix.pointee.x)

        guard let factor = cholmod_analyze(matrix, &common) else {
            throw RuntimeError("the sparse solver (CHOLMOD) could not order a \(order) × \(order) system (status \(common.status))")
        }
        var factorPointer: UnsafeMutablePointer<cholmod_factor>? = factor
        defer { cholmod_free_factor(&factorPointer, &common) }
        cholmod_factorize(matrix, factor, &common)
        guard common.status == CHOLMOD_OK, factor.pointee.minor == order else {
            throw RuntimeError("the imputation's linear system is singular: a removed region has no kept pixel next to it")
        }

        guard let rhs = cholmod_allocate_dense(order, columns, order, CHOLMOD_REAL, &common) else {
            throw RuntimeError("the sparse solver (CHOLMOD) could not allocate the right-hand side")
        }
        var rhsPointer: UnsafeMutablePointer<cholmod_dense>? = rhs
        defer { cholmod_free_dense(&rhsPointer, &common) }
        Self.copy(b, to: rhs.pointee.x)
        guard let solution = cholmod_solve(Int32(CHOLMOD_A), factor, rhs, &common) else {
            throw RuntimeError("the sparse solver (CHOLMOD) failed to solve (status \(common.status))")
        }
        var solutionPointer: UnsafeMutablePointer<cholmod_dense>? = solution
        defer { cholmod_free_dense(&solutionPointer, &common) }
        let x = solution.pointee.x.assumingMemoryBound(to: Double.self)
        return Array(UnsafeBufferPointer(start: x, count: order * columns))
    }

    /// Copies an array's bytes into memory CHOLMOD allocated for them.
    private static func copy<Element>(_ array: [Element], to destination: UnsafeMutableRawPointer) {
        array.withUnsafeBytes { bytes in
            guard let base = bytes.baseAddress else { return }
            destination.copyMemory(from: base, byteCount: bytes.count)
        }
    }
}
