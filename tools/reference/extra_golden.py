#!/usr/bin/env python3
"""Reference vectors the shared golden set lacks, computed with mpmath at 60 digits.

1. gelu_tanh, f32 and f64, on the golden inputs: the shared set evaluates 0.5*x*(1 + tanh(u)) at
   50 digits, where 1 + tanh(u) cancels to nothing for x < -11 (75 float64 values are wrong, by up
   to 1e4 relative). Here it is x * sigmoid(2u), with no cancellation.
2. silu, mish, gelu, gelu_tanh backward, f32 and f64, densely around the root of f'(x), where
   f'(x) cancels and a plain float64 evaluation loses digits; grad_output is 1, so grad_input is
   f'(x) rounded.
3. Every smooth function, float64, forward and backward, on a dense sweep of [-10, 10] (and of
   [-3, 3] twice as dense), where float64 evaluation is hardest outside the tails; and float32 on
   such a sweep with the tails ([-105, -10] and [10, 45]), where results turn subnormal.
4. The Taylor coefficients of those derivatives around their roots, printed for
   src/main/java/dev/rectifier/cpu/RootSeries.java.

Conventions as ../shared/reference/README.md; zero results take the sign of the exact value; the
derivative of gelu and gelu_tanh is taken as exactly 0 (so +0 by selection) below x = -40 and
x = -30, where it is below 1e-340, as the shared gelu vectors do.
Run from the repository root: python3 tools/reference/extra_golden.py
"""
import json
import os
import sys

import numpy as np
from mpmath import mp, mpf, exp, expm1, sqrt, pi, erfc, log1p, tanh, findroot, taylor

mp.dps = 60
OUT = "src/test/resources/golden-extra"
GOLDEN = "src/test/resources/golden"
K = mpf("0.044715")
C = sqrt(2 / pi)


def sig(v):
    return 1 / (1 + exp(-v))


def silu(x):
    return x * sig(x)


def silu_d(x):
    s = sig(x)
    return s * (1 + x * (1 - s))


def mish(x):
    return x * tanh(log1p(exp(x)))


def mish_d(x):
    sp = log1p(exp(x))
    t = tanh(sp)
    return t + x * (1 - t * t) * sig(x)


def gelu(x):
    return x * erfc(-x / sqrt(2)) / 2


def gelu_d(x):
    return erfc(-x / sqrt(2)) / 2 + x * exp(-x * x / 2) / sqrt(2 * pi)


def u_of(x):
    return C * (x + K * x ** 3)


def gelu_tanh(x):
    return x * sig(2 * u_of(x))


def gelu_tanh_d(x):
    s = sig(2 * u_of(x))
    du = C * (1 + 3 * K * x * x)
    return s + x * 2 * s * (1 - s) * du


SELU_ALPHA = mpf("1.6732632423543772848170429916717")
SELU_SCALE = mpf("1.0507009873554804934193349852946")


def elu(x, a=1):
    return x if x > 0 else a * expm1(x)


def elu_d(x, a=1):
    return mpf(1) if x > 0 else a * exp(x)


def selu(x):
    return SELU_SCALE * elu(x, SELU_ALPHA)


def selu_d(x):
    return SELU_SCALE * elu_d(x, SELU_ALPHA)


def celu(x, a=mpf(2)):
    return x if x > 0 else a * expm1(x / a)


def celu_d(x, a=mpf(2)):
    return mpf(1) if x > 0 else exp(x / a)


def softplus(x):
    return x if x > 20 else log1p(exp(x))


def softplus_d(x):
    return mpf(1) if x > 20 else sig(x)


def rounded(v, dt):
    """mpf -> dtype, with the sign of the exact value on zeros."""
    f = dt(float(v)) if abs(v) > mpf("1e-400") else dt(0.0)
    if f == 0 and v < 0:
        f = dt(-0.0)
    return f


def tanh_form(xs, gs, dt):
    ys, dxs = [], []
    for x, g in zip(xs, gs):
        if np.isnan(x):
            ys.append(dt(np.nan)); dxs.append(dt(np.nan)); continue
        if np.isinf(x):
            ys.append(dt(x) if x > 0 else dt(-0.0))
            dxs.append(dt(g) if x > 0 else dt(0.0)); continue
        xv = mpf(float(x))
        ys.append(dt(x) if x == 0 else rounded(gelu_tanh(xv), dt))  # f(+-0) = +-0
        if xv < -30:
            dxs.append(dt(0.0))
        else:
            dxs.append(rounded(mpf(float(g)) * gelu_tanh_d(xv), dt))
    return np.array(ys, dtype=dt), np.array(dxs, dtype=dt)


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = []
    for tag, dt in (("f32", np.float32), ("f64", np.float64)):
        x = np.load(f"{GOLDEN}/gelu_tanh_0_{tag}.x.npy")
        g = np.load(f"{GOLDEN}/gelu_tanh_0_{tag}.g.npy")
        y, dx = tanh_form(x, g, dt)
        name = f"gelu_tanh_fixed_{tag}"
        np.save(f"{OUT}/{name}.y_exact.npy", y)
        np.save(f"{OUT}/{name}.dx_exact.npy", dx)
        cases.append({"case": name, "function": "gelu_tanh", "dtype": tag,
                      "x": f"../golden/gelu_tanh_0_{tag}.x.npy",
                      "grad_output": f"../golden/gelu_tanh_0_{tag}.g.npy",
                      "y_exact": f"{name}.y_exact.npy", "grad_input_exact": f"{name}.dx_exact.npy"})

    rng = np.random.default_rng(20261123)
    series = {}
    for fname, d, guess in (("silu", silu_d, -1.28), ("mish", mish_d, -1.19),
                            ("gelu", gelu_d, -0.75), ("gelu_tanh", gelu_tanh_d, -0.75)):
        r = findroot(d, guess)
        coeffs = taylor(d, r, 28)
        series[fname] = (r, coeffs)
        for tag, dt in (("f32", np.float32), ("f64", np.float64)):
            near = float(r) + rng.uniform(-1.5, 1.5, 3000) * rng.choice([1, 1e-3, 1e-8], 3000)
            xs = np.concatenate([near, [float(r)]]).astype(dt)
            dxs = np.array([rounded(d(mpf(float(v))), dt) for v in xs], dtype=dt)
            gs = np.ones_like(xs)
            name = f"{fname}_root_{tag}"
            np.save(f"{OUT}/{name}.x.npy", xs)
            np.save(f"{OUT}/{name}.g.npy", gs)
            np.save(f"{OUT}/{name}.dx_exact.npy", dxs)
            cases.append({"case": name, "function": fname, "dtype": tag, "x": f"{name}.x.npy",
                          "grad_output": f"{name}.g.npy", "grad_input_exact": f"{name}.dx_exact.npy"})
    sweep = np.concatenate([rng.uniform(-10, 10, 4000), rng.uniform(-3, 3, 4000)])
    for fname, f, d, params in (
            ("elu", elu, elu_d, {"alpha": 1.0}), ("selu", selu, selu_d, {}),
            ("celu", celu, celu_d, {"alpha": 2.0}), ("gelu", gelu, gelu_d, {}),
            ("gelu_tanh", gelu_tanh, gelu_tanh_d, {}), ("silu", silu, silu_d, {}),
            ("mish", mish, mish_d, {}), ("softplus", softplus, softplus_d, {})):
        xs = sweep.astype(np.float64)
        ys = np.array([rounded(f(mpf(float(v))), np.float64) for v in xs])
        dxs = np.array([rounded(d(mpf(float(v))), np.float64) for v in xs])
        name = f"{fname}_sweep_f64"
        np.save(f"{OUT}/{name}.x.npy", xs)
        np.save(f"{OUT}/{name}.g.npy", np.ones_like(xs))
        np.save(f"{OUT}/{name}.y_exact.npy", ys)
        np.save(f"{OUT}/{name}.dx_exact.npy", dxs)
        cases.append({"case": name, "function": fname, "dtype": "f64", "params": params,
                      "x": f"{name}.x.npy", "grad_output": f"{name}.g.npy",
                      "y_exact": f"{name}.y_exact.npy", "grad_input_exact": f"{name}.dx_exact.npy"})
    # float32 sweeps, tails included (subnormal results, the far left of every derivative): what
    # the float-only OpenCL path (float-float arithmetic) is held to. The derivatives of gelu and
    # gelu_tanh are +0 by selection below -40 and -30, as everywhere.
    rng32 = np.random.default_rng(20261124)
    sweep32 = np.concatenate([rng32.uniform(-10, 10, 2000), rng32.uniform(-3, 3, 1000),
                              rng32.uniform(-105, -10, 800), rng32.uniform(10, 45, 200)])
    zero_below = {"gelu": -40, "gelu_tanh": -30}
    for fname, f, d, params in (
            ("elu", elu, elu_d, {"alpha": 1.0}), ("selu", selu, selu_d, {}),
            ("celu", celu, celu_d, {"alpha": 2.0}), ("gelu", gelu, gelu_d, {}),
            ("gelu_tanh", gelu_tanh, gelu_tanh_d, {}), ("silu", silu, silu_d, {}),
            ("mish", mish, mish_d, {}), ("softplus", softplus, softplus_d, {})):
        xs = sweep32.astype(np.float32)
        ys = np.array([rounded(f(mpf(float(v))), np.float32) for v in xs], dtype=np.float32)
        dxs = np.array([np.float32(0.0) if v < zero_below.get(fname, -np.inf)
                        else rounded(d(mpf(float(v))), np.float32) for v in xs], dtype=np.float32)
        name = f"{fname}_sweep_f32"
        np.save(f"{OUT}/{name}.x.npy", xs)
        np.save(f"{OUT}/{name}.g.npy", np.ones_like(xs))
        np.save(f"{OUT}/{name}.y_exact.npy", ys)
        np.save(f"{OUT}/{name}.dx_exact.npy", dxs)
        cases.append({"case": name, "function": fname, "dtype": "f32", "params": params,
                      "x": f"{name}.x.npy", "grad_output": f"{name}.g.npy",
                      "y_exact": f"{name}.y_exact.npy", "grad_input_exact": f"{name}.dx_exact.npy"})
    with open(f"{OUT}/manifest.json", "w") as f:
        json.dump({"generator": "tools/reference/extra_golden.py (mpmath, 60 digits)",
                   "cases": cases}, f, indent=1)

    for fname, (r, coeffs) in series.items():
        hi = float(r)
        lo = float(r - mpf(hi))
        print(f"// {fname}'(x) around its root r = {mp.nstr(r, 25)}: sum c[k] (x - r)^k, k = 1..")
        print(f"ROOT_HI = {hi!r}, ROOT_LO = {lo!r}")
        print("{" + ", ".join(repr(float(c)) for c in coeffs[1:]) + "}")


if __name__ == "__main__":
    sys.exit(main())
