#!/usr/bin/env python3
"""Expected numbers of FeatureTests.swift and AnomalyIndexTests.swift, computed independently with numpy/scipy.

Run: python3 Tests/NIDetectorsTests/make_expected.py   (numpy; scipy for the SSIM reference)
Each block prints a tag that the Swift tests name in a comment beside the number they use.
Conventions mirrored from the Swift code (and documented there): median of an even count = mean of the two
middle values (numpy's); MAD = 1.4826 * median(|x - median|); quantile = numpy's default 'linear'; Laplacian
with zero padding; SSIM = scikit-image's structural_similarity(data_range=1) mean (valid window positions).
"""
import numpy as np

np.set_printoptions(precision=12, suppress=False)


def mad_test(values, tail="left", threshold=2.0, c=1.4826):
    x = np.asarray(values, dtype=np.float64)
    med = np.median(x)
    mad = c * np.median(np.abs(x - med))
    idx = np.abs(x - med) / mad
    side = {"left": x < med, "right": x > med, "both": x != med}[tail]
    flagged = [i for i in range(len(x)) if side[i] and idx[i] > threshold]
    max_index = idx[side].max() if side.any() else 0.0
    return med, mad, idx, flagged, max_index


print("[MAD-5] values [1,2,3,4,100]")
for tail in ("left", "right", "both"):
    med, mad, idx, fl, mx = mad_test([1, 2, 3, 4, 100], tail)
    print(f"  tail={tail} median={med!r} mad={mad!r} indices={idx.tolist()} flagged={fl} maxIndex={mx!r}")

print("[MAD-10] even count [5,-20,9,1,8,2,7,3,6,4]")
v10 = [5, -20, 9, 1, 8, 2, 7, 3, 6, 4]
med, mad, idx, fl, mx = mad_test(v10, "left")
print(f"  median={med!r} mad={mad!r} indices={idx.tolist()} flagged={fl} maxIndex={mx!r}")
s = np.sort(np.asarray(v10, dtype=float))
lower = s[len(s) // 2 - 1]
lower_mad = 1.4826 * np.sort(np.abs(s - lower))[len(s) // 2 - 1]
print(f"  (lower-middle convention would give median={lower} mad={lower_mad!r} index={abs(-20 - lower) / lower_mad!r})")

print("[MAD-TAILS] [0,10,11,12,13,14,30]")
for tail in ("left", "right", "both"):
    med, mad, idx, fl, mx = mad_test([0, 10, 11, 12, 13, 14, 30], tail)
    print(f"  tail={tail} median={med!r} mad={mad!r} flagged={fl} maxIndex={mx!r} idx0={idx[0]!r} idx6={idx[6]!r}")

print("[MAD-ZERO] [5,5,5,5,9,1]: median", np.median([5, 5, 5, 5, 9, 1]),
      "median|dev|", np.median(np.abs(np.array([5, 5, 5, 5, 9, 1]) - 5)), "-> degenerate (indices 0 or +inf)")


def lap_l1(m):
    p = np.pad(np.asarray(m, dtype=np.float64), 1)
    lap = p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4 * p[1:-1, 1:-1]
    return np.abs(lap).sum()


print("[LAP] 5x5 unit impulse at (2,2):", lap_l1(np.pad([[1.0]], 2)))
print("[LAP] 5x5 constant 1:", lap_l1(np.ones((5, 5))), "= 2(H-2)+2(W-2)+8 =", 2 * 3 + 2 * 3 + 8)
print("[LAP] 5x5 constant 1, interior 3x3 only:", 0.0)
print("[LAP] 5x5 unit impulse at corner (0,0):", lap_l1(np.pad([[1.0]], ((0, 4), (0, 4)))))

A = np.array([0, 1, 2, 3, 4, 0, 0, 0, 2], dtype=np.float64)
B = np.array([-1, 1, 3, 1, 1, 1, 1, 1, 1], dtype=np.float64)
norms = {
    "none": lambda m: m,
    "l1": lambda m: m / np.abs(m).sum(),
    "max": lambda m: m / np.abs(m).max(),
    "minMax": lambda m: (m - m.min()) / (m.max() - m.min()),
}
print("[SPARSE] 3x3 maps A, B")
for name, f in norms.items():
    print(f"  {name}: {(np.abs(f(A)).sum() + np.abs(f(B)).sum()) / 2!r}")

on = lambda *cells: cells
M1 = np.full((4, 4), 0.1); M2 = np.full((4, 4), 0.2); M3 = np.full((4, 4), 0.15)
M1[[0, 0, 1, 1], [0, 1, 0, 1]] = [0.9, 0.8, 0.85, 0.95]
M2[[0, 0, 1, 1], [1, 2, 1, 2]] = [0.9, 0.95, 0.8, 0.85]
M3[[1, 1, 2, 2], [1, 2, 1, 2]] = [0.7, 0.9, 0.8, 1.0]
M1[3, 3] = 0.3; M2[3, 0] = 0.25; M3[0, 3] = 0.05  # make the "off" pixels not all equal


def xor_persistence(maps, thr):
    acc = np.zeros(maps[0].shape, dtype=bool)
    for m in maps:
        acc ^= m > thr(m)
    return acc.sum() / acc.size


print("[XOR] three 4x4 maps, absolute 0.5:", xor_persistence([M1, M2, M3], lambda m: 0.5))
print("[XOR] three 4x4 maps, quantile 0.75 (numpy linear):",
      xor_persistence([M1, M2, M3], lambda m: np.quantile(m, 0.75)),
      "thresholds", [float(np.quantile(m, 0.75)) for m in (M1, M2, M3)])
print("[XOR] three identical maps M1 (parity):", xor_persistence([M1, M1, M1], lambda m: 0.5),
      " two identical:", xor_persistence([M1, M1], lambda m: 0.5))
q = np.arange(16, dtype=np.float64).reshape(4, 4) / 15.0
print("[XOR] ramp 0..15/15, quantile 0.9: threshold", float(np.quantile(q, 0.9)), "kept", int((q > np.quantile(q, 0.9)).sum()))

P1 = np.array([[0, 1], [2, 3]], dtype=np.float64)
P2 = np.array([[1, 1], [0, 3]], dtype=np.float64)
P3 = np.array([[0, 2], [2, 1]], dtype=np.float64)
ps = [P1, P2, P3]
pairs = [((ps[i] - ps[j]) ** 2).mean() for i in range(3) for j in range(i + 1, 3)]
print("[MSE] three 2x2 maps, no normalisation: mean pairwise MSE", float(np.mean(pairs)))


def pattern(h, w, a, b, m):
    y, x = np.mgrid[0:h, 0:w]
    return ((x * a + y * b + x * y) % m).astype(np.float64) / (m - 1)


def ssim_ref(X, Y, gaussian):
    from scipy.ndimage import uniform_filter, gaussian_filter
    if gaussian:
        filt = lambda z: gaussian_filter(z, sigma=1.5, truncate=3.5)
        win, cov_norm = 11, 1.0
    else:
        filt = lambda z: uniform_filter(z, size=7)
        win, cov_norm = 7, 49 / 48
    ux, uy = filt(X), filt(Y)
    uxx, uyy, uxy = filt(X * X), filt(Y * Y), filt(X * Y)
    vx, vy, vxy = cov_norm * (uxx - ux * ux), cov_norm * (uyy - uy * uy), cov_norm * (uxy - ux * uy)
    C1, C2 = 0.01 ** 2, 0.03 ** 2
    S = ((2 * ux * uy + C1) * (2 * vxy + C2)) / ((ux ** 2 + uy ** 2 + C1) * (vx + vy + C2))
    pad = (win - 1) // 2
    return S[pad:-pad, pad:-pad].mean()


mm = lambda z: (z - z.min()) / (z.max() - z.min())
S1 = pattern(12, 12, 7, 13, 17)
S2 = pattern(12, 12, 5, 3, 11)
S3 = pattern(12, 12, 7, 13, 17) * 0.5 + pattern(12, 12, 2, 9, 13) * 0.5
for g in (False, True):
    s12, s23 = ssim_ref(mm(S1), mm(S2), g), ssim_ref(mm(S2), mm(S3), g)
    print(f"[SSIM] 12x12 patterns, {'gaussian11' if g else 'uniform7'}: ssim12={s12!r} ssim23={s23!r} "
          f"persistence=1-mean={1 - (s12 + s23) / 2!r}")
