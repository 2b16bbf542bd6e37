#!/usr/bin/env python3
# Copyright 2026 The datanode Authors.
"""Independent implementation of docs/determinism.md §8 (the LLM ops) in plain Python
integers, compared byte for byte with the C++ reference on random cases through
llm_crosscheck_tool. Written from the spec text, so a mismatch is a bug in the spec or
in the reference. Usage: llm_crosscheck.py PATH_TO_TOOL [CASES_PER_OP]."""
import hashlib
import math
import random
import struct
import subprocess
import sys

# --- §8.1 constants ---
LOG2E_Q38 = 396564993198
LN2_Q30 = 744261118
EXP2_Q30 = [1073741824, 1121280436, 1170923762, 1222764986, 1276901417, 1333434672,
            1392470869, 1454120821, 1518500250, 1585730000, 1655936265, 1729250827,
            1805811301, 1885761398, 1969251188, 2056437387]
LN2_Q62 = 3196577161300663915
HALF_PI_Q62 = 7244019458077122842


# --- §5 and §8.4: exact decode and the single rounding ---
def decode32(bits):
    be, m = (bits >> 23) & 0xFF, bits & 0x7FFFFF
    e = -149
    if be:
        m |= 1 << 23
        e = be - 150
    return (-m if bits >> 31 else m), e


def decode16(bits):
    be, m = (bits >> 10) & 0x1F, bits & 0x3FF
    e = -24
    if be:
        m |= 1 << 10
        e = be - 25
    return (-m if bits >> 15 else m), e


def round_ieee(num, den, exp, frac_bits, exp_bits):
    """Rounds (num / den) * 2^exp (den > 0) to nearest even; returns bits."""
    if num == 0:
        return 0
    sign = 1 << (frac_bits + exp_bits) if num < 0 else 0
    num = abs(num)
    bias = (1 << (exp_bits - 1)) - 1
    min_lsb = 1 - bias - frac_bits
    # top = floor(log2(num / den)) + exp
    top = num.bit_length() - den.bit_length()
    if (num << max(0, -top)) < (den << max(0, top)):
        top -= 1
    top += exp
    lsb = max(top - frac_bits, min_lsb)
    # significand = round(num / den * 2^(exp - lsb))
    sh = exp - lsb
    n, d = (num << sh, den) if sh >= 0 else (num, den << -sh)
    q, r = divmod(n, d)
    if 2 * r > d or (2 * r == d and q & 1):
        q += 1
    if q >> (frac_bits + 1):
        q >>= 1
        lsb += 1
    if q == 0:
        return sign
    if q >> frac_bits == 0:
        return sign | q
    biased = lsb + frac_bits + bias
    if biased >= (1 << exp_bits) - 1:
        return sign | (((1 << exp_bits) - 1) << frac_bits)
    return sign | (biased << frac_bits) | (q & ((1 << frac_bits) - 1))


def round32(num, exp, den=1):
    return round_ieee(num, den, exp, 23, 8)


def round16_sat(num, exp):
    b = round_ieee(num, 1, exp, 10, 5)
    if (b >> 10) & 0x1F == 0x1F:
        b = (b & 0x8000) | 0x7BFF
    return b


def exact_sum32(a, ae, b, be):
    e = min(ae, be)
    return round32((a << (ae - e)) + (b << (be - e)), e)


# --- §8.2 exp ---
def log2e_q30(m, e):
    if m == 0:
        return 0
    p, s = m * LOG2E_Q38, e - 8
    if s >= 0:
        return 1 << 42 if s >= 42 or p >= (1 << 42) >> s else p << s
    return 0 if -s >= 63 else min(p >> -s, 1 << 42)


def exp2_neg_q30(y):
    k = (-y) >> 30
    f = -y - (k << 30)
    j, r = f >> 26, f & ((1 << 26) - 1)
    z = (r * LN2_Q30) >> 30
    p = 1 << 30
    for n in (5, 4, 3, 2, 1):
        p = (1 << 30) + ((z * p) >> 30) // n
    return min((EXP2_Q30[j] * p) >> 30, (1 << 31) - 1), k


def weight_q40(e, k):
    s = k + 10
    if s >= 0:
        return e << s
    return 0 if s <= -31 else e >> -s


# --- ops ---
def op_add(x, y):
    out = []
    for a, b in zip(x, y):
        (ma, ea), (mb, eb) = decode32(a), decode32(b)
        out.append(exact_sum32(ma, ea, mb, eb))
    return out


def op_rmsnorm(x, g, eps):
    n = len(x)
    dx = [decode32(b) for b in x]
    nz = [e for m, e in dx if m]
    S = 0
    E = max(nz) if nz else 0
    for m, e in dx:
        if m == 0:
            continue
        s = E - e
        t = abs(m) if s == 0 else (0 if s >= 25 else (abs(m) + (1 << (s - 1))) >> s)
        S += t * t

    def norm(m, e):
        if m == 0:
            return 0, 0
        sh = 63 - m.bit_length()
        return (m << sh, e - sh) if sh >= 0 else (m >> -sh, e - sh)

    me_, ee_ = decode32(eps)
    terms = [t for t in (norm(S, 2 * E), norm(n * me_, ee_)) if t[0]]
    terms.sort(key=lambda t: -t[1])
    tm, te = terms[0]
    if len(terms) == 2:
        sh = te - terms[1][1]
        tm += 0 if sh >= 64 else terms[1][0] >> sh
    mm, me = tm // n, te
    sh = 62 - mm.bit_length()
    mm, me = (mm << sh, me - sh) if sh >= 0 else (mm >> -sh, me - sh)
    if me & 1:
        mm, me = mm >> 1, me + 1
    R = (1 << 62) // math.isqrt(mm)
    out = []
    for xb, gb in zip(x, g):
        (mx, ex), (mg, eg) = decode32(xb), decode32(gb)
        out.append(round32(mx * mg * R, ex + eg - 62 - me // 2))
    return out


def op_silu(gate, up):
    out = []
    for gb, ub in zip(gate, up):
        (mg, eg), (mu, eu) = decode32(gb), decode32(ub)
        E, k = exp2_neg_q30(log2e_q30(abs(mg), eg))
        den = (1 << 30) + (E >> -k if k >= -30 else 0)
        if mg >= 0:
            sig, se = (1 << 61) // den, -31
        else:
            sig, se = (E << 31) // den, k - 31
        out.append(round32(mg * mu * sig, eg + eu + se))
    return out


def rope_cs(base, dim, pos, i):
    m, e = decode32(base)
    x, frac = m << 39, 0
    for bit in range(61, -1, -1):
        x = (x * x) >> 62
        if x >= 1 << 63:
            frac |= 1 << bit
            x >>= 1
    L = ((e + 23) << 62) + frac
    t = (2 * i * L) // dim
    K, F = t >> 62, t & ((1 << 62) - 1)
    one = 1 << 62
    if F == 0:
        theta = 0 if K >= 63 else one >> K
    else:
        z = ((one - F) * LN2_Q62) >> 62
        P, term, j = one, one, 1
        while term:
            term = ((term * z) >> 62) // j
            P += term
            j += 1
        theta = 0 if K + 1 >= 126 else P >> (K + 1)
    a = (pos * theta) % (4 * HALF_PI_Q62)
    q = a // HALF_PI_Q62
    a -= q * HALF_PI_Q62

    def series(first, den):
        total, term, j = first, first, 1
        while term:
            term = ((((term * a) >> 62) * a) >> 62) // den(j)
            total += -term if j & 1 else term
            j += 1
        return total

    s = series(a, lambda j: (2 * j) * (2 * j + 1))
    c = series(one, lambda j: (2 * j - 1) * (2 * j))
    c, s = [(c, s), (-s, c), (-c, -s), (s, -c)][q]
    return (c + (1 << 31)) >> 32, (s + (1 << 31)) >> 32


def op_rope(base, dim, pos, heads, head_dim, x):
    out = list(x)
    cs = [rope_cs(base, dim, pos, i) for i in range(dim // 2)]
    for h in range(heads):
        for i, (C, S) in enumerate(cs):
            o = h * head_dim + 2 * i
            (ma, ea), (mb, eb) = decode32(x[o]), decode32(x[o + 1])
            out[o] = exact_sum32(ma * C, ea - 30, -mb * S, eb - 30)
            out[o + 1] = exact_sum32(ma * S, ea - 30, mb * C, eb - 30)
    return out


def f16_units(bits):
    m, e = decode16(bits)
    return m << (e + 24)


def op_attend(n_heads, n_kv, hd, n, q, k, v):
    enc = lambda b: f16_units(round16_sat(*decode32(b)))
    kv = n_kv * hd
    C = math.isqrt(16 * LOG2E_Q38 * LOG2E_Q38 // hd)
    out = []
    for h in range(n_heads):
        g = h // (n_heads // n_kv)
        qh = [enc(b) for b in q[h * hd:(h + 1) * hd]]
        D = [sum(a * enc(k[p * kv + g * hd + j]) for j, a in enumerate(qh)) for p in range(n)]
        dmax = max(D)
        w = []
        for d in D:
            diff = dmax - d
            y = 1 << 42 if diff >= 1 << 59 else min((diff * C) >> 58, 1 << 42)
            w.append(weight_q40(*exp2_neg_q30(y)))
        W = sum(w)
        for j in range(hd):
            num = sum(w[p] * enc(v[p * kv + g * hd + j]) for p in range(n))
            out.append(round32(num, -24, W))
    return out


class SpecRng:
    def __init__(self, seed):
        self.seed, self.block, self.words = seed, 0, []

    def next(self):
        if not self.words:
            d = hashlib.sha256(self.seed + struct.pack("<Q", self.block)).digest()
            self.words = list(struct.unpack("<4Q", d))
            self.block += 1
        return self.words.pop(0)


def key32(bits):
    mag = bits & 0x7FFFFFFF
    return -mag if bits >> 31 else mag


def op_sample(temp, top_k, top_p, seed, draws, logits):
    rng = SpecRng(seed)
    V = len(logits)
    best = max(range(V), key=lambda i: (key32(logits[i]), -i))
    if temp == 0:
        return [best] * draws
    order = sorted(range(V), key=lambda i: (-key32(logits[i]), i))
    if 0 < top_k < V:
        order = order[:top_k]
    lm, le = decode32(logits[best])
    tm, te = decode32(temp)
    w = []
    for i in order:
        m, e = decode32(logits[i])
        d = exact_sum32(lm, le, -m, e)
        if (d >> 23) & 0xFF == 0xFF:
            w.append(0)
            continue
        dm, de = decode32(d)
        s = round32(dm, de - te, tm)
        if (s >> 23) & 0xFF == 0xFF:
            w.append(0)
            continue
        w.append(weight_q40(*exp2_neg_q30(log2e_q30(*decode32(s)))))
    W = sum(w)
    if top_p != 0x3F800000:
        pm, pe = decode32(top_p)
        cum, c = 0, 0
        while c < len(order):
            cum += w[c]
            c += 1
            if pe < -60 or (cum << -pe) >= pm * W:
                break
        order, w, W = order[:c], w[:c], cum
    out = []
    for _ in range(draws):
        r = (rng.next() * W) >> 64
        cum = 0
        for t, wt in zip(order, w):
            cum += wt
            if cum > r:
                out.append(t)
                break
    return out


def op_dequant(fmt, d, row):
    out = []
    for i in range(d):
        if fmt == 1:
            out.append(struct.unpack_from("<I", row, 4 * i)[0])
        elif fmt == 2:
            out.append(round32(*decode16(struct.unpack_from("<H", row, 2 * i)[0])))
        else:
            size = {3: 34, 4: 18, 5: 20}[fmt]
            blk = row[(i // 32) * size:(i // 32 + 1) * size]
            dm, de = decode16(struct.unpack_from("<H", blk, 0)[0])
            j = i % 32
            if fmt == 3:
                out.append(round32(dm * struct.unpack_from("<b", blk, 2 + j)[0], de))
                continue
            qs = blk[4:] if fmt == 5 else blk[2:]
            nib = qs[j] & 15 if j < 16 else qs[j - 16] >> 4
            if fmt == 4:
                out.append(round32(dm * (nib - 8), de))
            else:
                mm, me = decode16(struct.unpack_from("<H", blk, 2)[0])
                e = min(de, me)
                out.append(round32((dm * nib << (de - e)) + (mm << (me - e)), e))
    return out


def finite16(rnd):
    while True:
        b = rnd.getrandbits(16)
        if (b >> 10) & 0x1F != 0x1F:
            return b


# --- random cases ---
def f32bits(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def act(rnd, sigma):
    return f32bits(rnd.gauss(0, sigma) * (20 if rnd.random() < 0.01 else 1))


def any_finite(rnd):
    while True:
        b = rnd.getrandbits(32)
        if (b >> 23) & 0xFF != 0xFF:
            return b


def hexs(v):
    return " ".join("%x" % b for b in v)


def cases(rnd, count):
    for c in range(count):
        fmt = 1 + c % 5
        d = 64
        if fmt == 1:
            row = b"".join(struct.pack("<I", any_finite(rnd)) for _ in range(d))
        elif fmt == 2:
            row = b"".join(struct.pack("<H", finite16(rnd)) for _ in range(d))
        else:
            row = b""
            for _ in range(d // 32):
                row += struct.pack("<H", finite16(rnd))
                if fmt == 5:
                    row += struct.pack("<H", finite16(rnd))
                if fmt == 3:
                    row += bytes(rnd.choice(range(129, 256 + 128)) % 256 for _ in range(32))
                else:
                    row += bytes(rnd.getrandbits(8) for _ in range(16))
        yield ("dequant %d %d %s" % (fmt, d, row.hex()),
               lambda a=(fmt, d, row): op_dequant(*a))
        n = rnd.choice([1, 2, 7, 32, 64, 577])
        x = [any_finite(rnd) if c % 4 == 0 else act(rnd, 2.0) for _ in range(n)]
        y = [any_finite(rnd) if c % 4 == 1 else act(rnd, 1.0) for _ in range(n)]
        yield "add %d %s %s" % (n, hexs(x), hexs(y)), lambda x=x, y=y: op_add(x, y)
        eps = f32bits(rnd.choice([1e-5, 1e-6, 2.0 ** -20, 1e-30, 10.0, 1e-45]))
        scale = rnd.choice([1.0, 1e-30, 1e30, 1e-42])
        xs = [f32bits(rnd.gauss(0, 1) * scale * (20 if rnd.random() < 0.01 else 1))
              for _ in range(n)]
        if c % 7 == 0:
            xs = [0] * n
        g = [act(rnd, 0.3) for _ in range(n)]
        yield ("rmsnorm %d %x %s %s" % (n, eps, hexs(xs), hexs(g)),
               lambda xs=xs, g=g, eps=eps: op_rmsnorm(xs, g, eps))
        gate = [any_finite(rnd) if c % 5 == 0 else f32bits(rnd.uniform(-100, 100) if c % 2
                                                             else rnd.gauss(0, 3))
                for _ in range(n)]
        up = [act(rnd, 1.0) for _ in range(n)]
        yield "silu %d %s %s" % (n, hexs(gate), hexs(up)), lambda g=gate, u=up: op_silu(g, u)
        base = f32bits(rnd.choice([10000.0, 100000.0, 500000.0, 1e6, 1.5]))
        dim = rnd.choice([2, 4, 64, 128])
        head_dim = dim + rnd.choice([0, 32]) if dim >= 32 else dim
        heads = rnd.choice([1, 2])
        pos = rnd.choice([0, 1, 100, rnd.randrange(5000)])
        xr = [act(rnd, 2.0) for _ in range(heads * head_dim)]
        yield ("rope %x %d %d %d %d %s" % (base, dim, pos, heads, head_dim, hexs(xr)),
               lambda a=(base, dim, pos, heads, head_dim, xr): op_rope(*a))
        nh, nkv, hd = rnd.choice([(2, 1, 32), (4, 2, 64), (9, 3, 64), (1, 1, 128)])
        npos = rnd.choice([1, 2, 5, 17])
        q = [act(rnd, 3.0) for _ in range(nh * hd)]
        k = [act(rnd, 3.0) for _ in range(npos * nkv * hd)]
        v = [act(rnd, 0.5) for _ in range(npos * nkv * hd)]
        yield ("attend %d %d %d %d %s %s %s" % (nh, nkv, hd, npos, hexs(q), hexs(k), hexs(v)),
               lambda a=(nh, nkv, hd, npos, q, k, v): op_attend(*a))
        V = rnd.choice([1, 3, 50, 300])
        logits = [act(rnd, rnd.choice([1.0, 5.0])) for _ in range(V)]
        if c % 6 == 0 and V > 2:
            logits[1] = logits[2]  # ties
        temp = f32bits(rnd.choice([0.0, 0.7, 1.0, 1.3, 1e-3]))
        top_k = rnd.choice([0, 1, 5, 40])
        top_p = f32bits(rnd.choice([1.0, 0.9, 0.5, 0.05]))
        seed = bytes(rnd.getrandbits(8) for _ in range(rnd.choice([0, 8, 32])))
        yield ("sample %x %d %x %s 6 %d %s" % (temp, top_k, top_p, seed.hex() or "-", V,
                                               hexs(logits)),
               lambda a=(temp, top_k, top_p, seed, 6, logits): op_sample(*a))


def main():
    tool = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    rnd = random.Random(20261207)
    todo = list(cases(rnd, count))
    stdin = "\n".join(line for line, _ in todo) + "\n"
    got = subprocess.run([tool], input=stdin, capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert len(got) == len(todo), (len(got), len(todo))
    bad = 0
    for (line, want_fn), line_got in zip(todo, got):
        want = want_fn()
        if line.startswith("sample"):
            want_s = " ".join(str(t) for t in want)
        else:
            want_s = " ".join("%08x" % b for b in want)
        if want_s != line_got:
            bad += 1
            if bad <= 5:
                print("MISMATCH", line[:200], "\n  python:", want_s[:300], "\n  c++:   ",
                      line_got[:300])
    print("%d cases, %d mismatches" % (len(todo), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
