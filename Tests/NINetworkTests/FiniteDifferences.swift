import NITensor

/// Shared by the table-driven gradient checks (layers and graph ops): central differences and the tolerance.
enum FiniteDifferences {
    /// `(L(t[i] + eps) - L(t[i] - eps)) / 2eps`, restoring `t[i]`.
    static func central(_ t: Tensor, _ i: Int, eps: Double, loss: () -> Double) -> Double {
        let old = t[i]
        t[i] = old + Float(eps); let lp = loss()
        t[i] = old - Float(eps); let lm = loss()
        t[i] = old
        return (lp - lm) / (2 * eps)
    }

    /// Analytic `a` and numeric `n` agree within 3e-3 relative (absolute below 1).
    static func close(_ a: Double, _ n: Double) -> Bool { abs(a - n) <= 3e-3 * max(1, abs(a), abs(n)) }
}
