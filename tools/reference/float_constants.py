#!/usr/bin/env python3
"""Constants of the float-only path of kernels-opencl/rectifier.cl (devices without cl_khr_fp64),
computed with mpmath at 60 digits and written between the markers of that file.

The float-only path computes in float-float ("ff": an unevaluated sum hi + lo of two floats, about
48 significant bits), so every constant is given as such a pair, rounded to nearest; the roots of
f' as three floats (hi + mid + lo), so that x - r keeps its digits for the float x nearest the root.

- ln 2 in three parts for exp's range reduction: the first with 12 significant bits, so that
  k * LN2_1 is exact for |k| < 2^12.
- 1/n!, n = 3..11, for exp's Taylor series on |r| <= ln(2)/2 (the remainder is below 2^-42).
- erfcx(z) = exp(z^2) erfc(z) on 0 <= z <= 30: a Chebyshev series of degree 18 of
  g(s) = (z + 3.75) erfcx(z) in t = (z - 3.75) / (z + 3.75), mapped to s in [-1, 1] (Schonfelder's
  variable; relative error below 2^-46, printed).
- f'(x) around its root for silu, mish, gelu, gelu_tanh: the Taylor series of
  tools/reference/extra_golden.py, to as many terms as float-float needs within 0.5 of the root.

Run from the repository root: python3 tools/reference/float_constants.py
"""
import re
import sys

import numpy as np
from mpmath import mp, mpf, sqrt, pi, erfc, exp, log, cos, chebyt, findroot, taylor, factorial, nstr

sys.path.insert(0, "tools/reference")
import extra_golden as ref  # noqa: E402

mp.dps = 60
TARGET = "kernels-opencl/rectifier.cl"
BEGIN = "// ---- BEGIN float_constants.py"
END = "// ---- END float_constants.py"
ERFCX_K = mpf("3.75")
ERFCX_ZMAX = mpf(30)
ERFCX_DEGREE = 18
SERIES_TERMS = 24


def f32(v):
    return np.float32(float(v))


def lit(v):
    # repr gives the shortest decimal that reads back as the same double, hence the same float.
    return repr(float(f32(v))) + "f"


def pair(v):
    hi = f32(v)
    lo = f32(v - mpf(float(hi)))
    return hi, lo


def triple(v):
    hi = f32(v)
    mid = f32(v - mpf(float(hi)))
    lo = f32(v - mpf(float(hi)) - mpf(float(mid)))
    return hi, mid, lo


def ff_literal(v):
    hi, lo = pair(v)
    return f"(float2)({lit(hi)}, {lit(lo)})"


def ff_array(name, values):
    body = ",\n    ".join(ff_literal(v) for v in values)
    return f"__constant float2 {name}[{len(values)}] = {{\n    {body},\n}};"


def erfcx_chebyshev():
    a = (0 - ERFCX_K) / (0 + ERFCX_K)
    b = (ERFCX_ZMAX - ERFCX_K) / (ERFCX_ZMAX + ERFCX_K)

    def g(s):
        t = ((b - a) * s + a + b) / 2
        z = ERFCX_K * (1 + t) / (1 - t)
        return (z + ERFCX_K) * erfc(z) * exp(z * z)

    n = ERFCX_DEGREE + 1
    vals = [g(cos(pi * (k + mpf("0.5")) / n)) for k in range(n)]
    c = [2 * sum(vals[k] * cos(pi * j * (k + mpf("0.5")) / n) for k in range(n)) / n
         for j in range(n)]
    c[0] /= 2
    worst = 0
    for i in range(2001):
        s = -1 + mpf(2) * i / 2000
        v = sum(c[j] * chebyt(j, s) for j in range(n))
        worst = max(worst, abs(v / g(s) - 1))
    return c, 2 / (b - a), (a + b) / (b - a), worst


def block():
    out = [BEGIN + " (do not edit by hand)"]
    ln2 = log(2)
    l1 = mpf(int(ln2 * 2 ** 12)) / 2 ** 12
    l2 = f32(ln2 - l1)
    l3 = f32(ln2 - l1 - mpf(float(l2)))
    out.append(f"#define FF_LN2_1 {lit(l1)}")
    out.append(f"#define FF_LN2_2 {lit(l2)}")
    out.append(f"#define FF_LN2_3 {lit(l3)}")
    out.append(f"#define FF_LOG2E {lit(1 / ln2)}")
    named = {
        "FF_INV_SQRT2": 1 / sqrt(2),
        "FF_SQRT_2_OVER_PI": sqrt(2 / pi),
        "FF_GELU_K": mpf("0.044715"),
        "FF_INV_SQRT_PI": 1 / sqrt(pi),
        "FF_INV_SQRT_2PI": 1 / sqrt(2 * pi),
        "FF_SELU_SCALE": ref.SELU_SCALE,
        "FF_SELU_SCALE_ALPHA": ref.SELU_SCALE * ref.SELU_ALPHA,
        "FF_ERFCX_K": ERFCX_K,
    }
    for name, v in named.items():
        out.append(f"#define {name} {ff_literal(v)}")
    out.append(ff_array("FF_EXP_TAYLOR", [1 / factorial(n) for n in range(3, 12)]))
    c, scale, shift, worst = erfcx_chebyshev()
    out.append(f"// erfcx Chebyshev series: worst relative error {nstr(worst, 3)} on [0, 30]")
    out.append(f"#define FF_ERFCX_S_SCALE {ff_literal(scale)}")
    out.append(f"#define FF_ERFCX_S_SHIFT {ff_literal(shift)}")
    out.append(ff_array("FF_ERFCX_CHEB", c))
    for fname, d, guess in (("SILU", ref.silu_d, -1.28), ("MISH", ref.mish_d, -1.19),
                            ("GELU", ref.gelu_d, -0.75), ("GELU_TANH", ref.gelu_tanh_d, -0.75)):
        r = findroot(d, guess)
        coeffs = taylor(d, r, SERIES_TERMS)[1:]
        hi, mid, lo = triple(r)
        out.append(f"#define FF_{fname}_ROOT_HI {lit(hi)}")
        out.append(f"#define FF_{fname}_ROOT_MID {lit(mid)}")
        out.append(f"#define FF_{fname}_ROOT_LO {lit(lo)}")
        out.append(ff_array(f"FF_{fname}_SERIES", coeffs))
    out.append(END)
    return "\n".join(out)


def main():
    text = open(TARGET).read()
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        print(f"{TARGET} has no {BEGIN} ... {END} region", file=sys.stderr)
        return 1
    new = pattern.sub(lambda _: block(), text)
    open(TARGET, "w").write(new)
    print(f"wrote the float-only constants into {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
