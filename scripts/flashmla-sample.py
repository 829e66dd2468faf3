#!/usr/bin/env python3
"""
An independent check of mla-sandbox against FlashMLA's definitions, written
with numpy alone (none of the sandbox's code): a sample of the cases of
FlashMLA's dense decode, sparse decode and sparse prefill correctness lists,
made the way FlashMLA's tests make them (tests/lib.py: bf16 values, NaN in
every slot no request reads, unused block-table entries, -1 and out-of-range
indices, sinks of +-inf, topk_length, MODEL1's extra cache; FP8 records
quantised as tests/quant.py does), written as .npy, handed to `mla-sandbox
run` / `mla-sandbox prefill` as a user would, and the outputs compared with
FlashMLA's reference (tests/ref.py, the dense decode's causal mask) computed
here in float64, under FlashMLA's own tolerances and its check_is_allclose
rule (an element passes when its absolute or its relative error is under
the tolerance; +-inf and NaN must sit in the same places; cosine diff).

    python3 scripts/flashmla-sample.py            # needs numpy; MLA_ADAPTER picks the adapter
    python3 scripts/flashmla-sample.py --list     # the cases, without running them

Not part of `npm test` (CI has no numpy); its figures are in docs/flashmla-api.md.
"""
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = [os.environ.get('NODE', 'node'), os.path.join(ROOT, 'bin', 'mla-sandbox.js')]

# FlashMLA's tolerances (tests: out rounded to bf16; lse and max_logits in f32).
OUT_TOL = {'dense': dict(abs_tol=8e-4, rel_tol=2.01 / 128, cos_diff_tol=5e-6),
           'sparse': dict(abs_tol=1e-3, rel_tol=2.01 / 128, cos_diff_tol=5e-6)}
LSE_TOL = dict(abs_tol=1e-6, rel_tol=8.01 / 65536, cos_diff_tol=5e-6)

HEADS = {576: (512, 64), 512: (448, 64)}  # d_qk -> (d_nope, d_rope)
D_V = 512


# ---------- numbers ----------

def bf16(x):
    """Round float32 values to bfloat16 (nearest, ties to even), returned as float32."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    b = x.view(np.uint32).astype(np.uint64)
    rounded = ((b + 0x7FFF + ((b >> 16) & 1)) >> 16) << 16
    out = rounded.astype(np.uint32).view(np.float32)
    return np.where(np.isnan(x), np.float32(np.nan), out).astype(np.float32)


def e4m3_table():
    """float8_e4m3fn: code -> value (0x7f and 0xff are NaN)."""
    vals = np.zeros(256, dtype=np.float64)
    for c in range(256):
        s, e, m = c >> 7, (c >> 3) & 0xF, c & 7
        if e == 0xF and m == 7:
            vals[c] = np.nan
            continue
        v = (m / 8) * 2.0 ** -6 if e == 0 else (1 + m / 8) * 2.0 ** (e - 7)
        vals[c] = -v if s else v
    return vals


E4M3 = e4m3_table()
E4M3_POS = np.array([c for c in range(128) if not np.isnan(E4M3[c])])  # finite non-negative codes, ascending value


def to_e4m3(x):
    """Round to the nearest e4m3 value, ties to the even code (torch's .to(float8_e4m3fn) for |x| <= 448)."""
    x = np.asarray(x, dtype=np.float64)
    a = np.abs(x)
    vals = E4M3[E4M3_POS]
    hi = np.clip(np.searchsorted(vals, a), 0, len(vals) - 1)
    lo = np.clip(hi - 1, 0, len(vals) - 1)
    dlo, dhi = a - vals[lo], vals[hi] - a
    pick = np.where(dlo < dhi, lo, np.where(dhi < dlo, hi, np.where(E4M3_POS[lo] % 2 == 0, lo, hi)))
    code = E4M3_POS[pick].astype(np.uint8)
    return np.where(np.signbit(x) & (a > 0), code | 0x80, code).astype(np.uint8)


def ue8m0_scale(amax):
    """tests/quant.py: 2 ** ceil(log2(max(amax / 448, 1e-4)))."""
    return 2.0 ** np.ceil(np.log2(np.maximum(amax / 448.0, 1e-4)))


def quantize_fp8(cache):
    """tests/quant.py quantize_k_cache: [blocks, page, 1, d] bf16 values -> uint8 records [blocks, page, 1, bytes]."""
    blocks, page, _, d = cache.shape
    d_nope, d_rope = HEADS[d]
    x = cache.reshape(blocks, page, d).astype(np.float64)
    x = np.nan_to_num(x)  # unread slots hold NaN; their records are never read
    tile = 128 if d == 576 else 64
    tiles = d_nope // tile
    codes = np.zeros((blocks, page, d_nope), dtype=np.uint8)
    scales = np.zeros((blocks, page, tiles))
    for t in range(tiles):
        part = x[..., t * tile:(t + 1) * tile]
        s = ue8m0_scale(np.abs(part).max(axis=-1))
        scales[..., t] = s
        codes[..., t * tile:(t + 1) * tile] = to_e4m3(part / s[..., None])
    rope = (bf16(x[..., d_nope:].astype(np.float32)).view(np.uint32) >> 16).astype(np.uint16)  # bf16 bits
    if d == 576:  # V32_FP8Sparse: nope (512) | 4 x f32 scale | rope bf16 (128), 656 B a token
        rec = np.concatenate([codes, scales.astype(np.float32).view(np.uint8).reshape(blocks, page, 16),
                              rope.view(np.uint8).reshape(blocks, page, 128)], axis=-1)
        return rec.reshape(blocks, page, 1, 656)
    # MODEL1_FP8Sparse: per page, page x [nope (448) | rope (128)], then page x [7 ue8m0 + 1 pad]; padded to 576 B
    body = np.concatenate([codes, rope.view(np.uint8).reshape(blocks, page, 128)], axis=-1).reshape(blocks, page * 576)
    exps = (np.log2(scales) + 127).astype(np.uint8)
    sc = np.concatenate([exps, np.zeros((blocks, page, 1), np.uint8)], axis=-1).reshape(blocks, page * 8)
    # A block's storage is padded to a multiple of 576 bytes; FlashMLA hands the kernel the view
    # [blocks, page, 1, 584] of its first page * 584 bytes, and that view is what a user saves.
    return np.concatenate([body, sc], axis=-1).reshape(blocks, page, 1, 584)


def dequantize_fp8(records, d, page):
    """tests/quant.py dequantize_k_cache, on this script's own records: float64 [blocks * page, d]."""
    d_nope, d_rope = HEADS[d]
    if d == 576:
        r = records.reshape(-1, 656)
        nope = E4M3[r[:, :512]]
        s = np.ascontiguousarray(r[:, 512:528]).view(np.float32).astype(np.float64)
        rope = np.ascontiguousarray(r[:, 528:]).view(np.uint16).astype(np.uint32) << 16
        out = np.concatenate([nope * np.repeat(s, 128, axis=1), rope.view(np.float32).astype(np.float64)], axis=1)
        return out
    blocks = records.shape[0]
    flat = records.reshape(blocks, page * 584)
    body = flat[:, :page * 576].reshape(blocks, page, 576)
    sc = flat[:, page * 576:].reshape(blocks, page, 8)[..., :7]
    nope = E4M3[body[..., :448]] * np.repeat(2.0 ** (sc.astype(np.float64) - 127), 64, axis=-1)
    rope = (np.ascontiguousarray(body[..., 448:]).view(np.uint16).astype(np.uint32) << 16).view(np.float32)
    return np.concatenate([nope, rope.astype(np.float64)], axis=-1).reshape(blocks * page, 512)


# ---------- FlashMLA's check ----------

def check_is_allclose(name, ans, ref, abs_tol, rel_tol, cos_diff_tol):
    """tests/lib.py check_is_allclose: (ok, message)."""
    ans = np.array(ans, dtype=np.float64)
    ref = np.array(ref, dtype=np.float64)
    if ans.shape != ref.shape:
        return False, f'{name}: shape {ans.shape} vs {ref.shape}'
    for val in (np.inf, -np.inf, np.nan):
        rm = np.isnan(ref) if np.isnan(val) else ref == val
        am = np.isnan(ans) if np.isnan(val) else ans == val
        if not np.array_equal(rm, am):
            return False, f'{name}: {val} in {am.sum()} places of the answer, {rm.sum()} of the reference'
        ref[rm] = 0
        ans[am] = 0
    den = (ans * ans + ref * ref).sum()
    cos = 0.0 if (ref * ref).sum() < 1e-12 or den == 0 else 1 - 2 * (ans * ref).sum() / den
    raw_abs = np.abs(ans - ref)
    raw_rel = raw_abs / (np.abs(ref) + 1e-6)
    rel = np.where(raw_abs < abs_tol, 0, raw_rel)
    ab = np.where(raw_rel < rel_tol, 0, raw_abs)
    ok = ((ab < abs_tol) | (rel < rel_tol)).all() and abs(cos) <= cos_diff_tol
    return ok, f'{name}: max abs {raw_abs.max():.2e}, max rel {rel.max():.2e}, cos diff {cos:.1e}'


# ---------- references (tests/ref.py, in float64) ----------

def softmax_rows(scores, d_v, keys, sink=None):
    """scores [..., h, n] with -inf for masked keys, keys [..., n, d] (the same leading dims): out, lse (+inf for a row with no key), max."""
    with np.errstate(invalid='ignore', divide='ignore', over='ignore'):
        m = scores.max(axis=-1, initial=-np.inf)
        m_safe = np.where(np.isfinite(m), m, 0)
        e = np.exp(scores - m_safe[..., None])
        z = e.sum(axis=-1)
        lse = np.log(z) + m_safe
        lse = np.where(z > 0, lse, -np.inf)
        p = np.where(z[..., None] > 0, e / np.where(z > 0, z, 1)[..., None], 0)
        out = np.einsum('...hn,...nd->...hd', p, keys[..., :d_v])
        if sink is not None:
            out = out * (1.0 / (1.0 + np.exp(sink - lse)))[..., None]
        out = np.where(np.isneginf(lse)[..., None], 0, out)
        out = np.nan_to_num(out, nan=0.0)
    return out, np.where(np.isneginf(lse), np.inf, lse), m


# ---------- cases ----------

def rng_for(seed):
    return np.random.default_rng(seed)


def dense_case(seed, b, s_q, s_k, h_q, h_kv, varlen, causal, zero_seqlen=False, d=576, page=64):
    r = rng_for(seed)
    seqlens = np.full(b, s_k, dtype=np.int32)
    if varlen:
        seqlens = np.clip(r.normal(s_k, s_k / 2, b), s_q, s_k * 2).astype(np.int32)
    if zero_seqlen:
        seqlens[r.random(b) < 0.3] = 0
    width = -(-int(seqlens.max()) // page)
    blocks = b * width
    perm = r.permutation(blocks).astype(np.int32).reshape(b, width)
    table = perm.copy()
    cache = bf16(r.standard_normal((blocks, page, h_kv, d)).astype(np.float32))
    for i in range(b):
        used = -(-int(seqlens[i]) // page)
        table[i, used:] = 2147480000  # FlashMLA's tests: entries no request reaches hold a huge block number
        for t in range(int(seqlens[i]), width * page):
            if t // page < used:
                cache[perm[i, t // page], t % page] = np.nan  # NaN past every sequence
        for j in range(used, width):
            cache[perm[i, j]] = np.nan
    q = bf16(r.standard_normal((b, s_q, h_q, d)).astype(np.float32))
    files = {'q': q, 'kv-cache': cache, 'block-table': table, 'cache-seqlens': seqlens}
    scale = d ** -0.5
    g = h_q // h_kv
    out = np.zeros((b, s_q, h_q, D_V))
    lse = np.zeros((b, h_q, s_q))
    for i in range(b):
        n = int(seqlens[i])
        slots = [perm[i, t // page] * page + t % page for t in range(n)]
        k = cache.reshape(-1, h_kv, d)[slots].astype(np.float64)  # [n, h_kv, d]
        for h in range(h_q):
            kh = k[:, h // g]
            s = (q[i, :, h].astype(np.float64) @ kh.T) * scale  # [s_q, n]
            if causal:
                for t in range(s_q):
                    s[t, max(0, n - s_q + t + 1):] = -np.inf
            o, l, _ = softmax_rows(s, D_V, kh)
            out[i, :, h] = o
            lse[i, h] = l
    args = [] if causal else ['--no-causal']
    return dict(kind='dense', call='run', files=files, args=['--kv', 'bf16', *args], ref={'out': out, 'lse': lse},
                what=f'dense decode b {b} s_q {s_q} s_k {s_k} h_q {h_q} h_kv {h_kv} varlen {varlen} causal {causal}'
                     + (' zero seqlens' if zero_seqlen else ''))


def sink_values(r, h_q):
    s = r.standard_normal(h_q).astype(np.float32)
    pick = r.random(h_q)
    s[pick < 0.3] = np.inf
    s[(pick >= 0.3) & (pick < 0.6)] = -np.inf
    return s


def sparse_decode_case(seed, d, b, s_q, h_q, s_k, topk, page, extra=None):
    """FP8 records; indices into the cache (block * page + offset) of each request's tokens, -1 padding; topk_length; a sink; NaN in every unread slot."""
    r = rng_for(seed)
    width = -(-s_k // page)
    blocks = b * width

    def make_cache(n_blocks, pg, s_len, tk, table):
        vals = bf16(r.standard_normal((n_blocks, pg, 1, d)).astype(np.float32))
        abs_idx = np.full((b, s_q, tk), -1, dtype=np.int64)
        for i in range(b):
            for t in range(s_q):
                n = min(tk, s_len)
                abs_idx[i, t, :n] = r.permutation(s_len)[:n]
        idx = np.where(abs_idx < 0, -1, table[np.arange(b)[:, None, None], np.maximum(abs_idx, 0) // pg] * pg + np.maximum(abs_idx, 0) % pg)
        lengths = r.integers(0, tk + 1, b).astype(np.int32)
        lengths[0] = tk
        read = np.zeros(n_blocks * pg, bool)
        for i in range(b):
            v = idx[i, :, :lengths[i]]
            read[v[v >= 0]] = True
        flat = vals.reshape(-1, d)
        flat[~read] = np.nan  # FlashMLA's tests: NaN in every slot no index reads
        return vals, idx.astype(np.int32), lengths

    table = r.permutation(blocks).reshape(b, width)
    vals, idx, lengths = make_cache(blocks, page, s_k, topk, table)
    q = bf16(r.standard_normal((b, s_q, h_q, d)).astype(np.float32))
    sink = sink_values(r, h_q)
    records = quantize_fp8(vals)
    files = {'q': q, 'kv-cache': records, 'indices': idx, 'topk-length': lengths, 'attn-sink': sink}
    kv = dequantize_fp8(records, d, page)
    gathered = [kv[np.maximum(idx, 0)]]
    invalid = [(idx < 0) | (np.arange(topk)[None, None, :] >= lengths[:, None, None])]
    what = f'sparse decode d_qk {d} b {b} s_q {s_q} h_q {h_q} s_k {s_k} topk {topk} page {page} (FP8, sink, topk_length)'
    if extra:
        e_page, e_s_k, e_topk = extra
        e_width = -(-e_s_k // e_page)
        e_table = r.permutation(b * e_width).reshape(b, e_width)
        e_vals, e_idx, e_lengths = make_cache(b * e_width, e_page, e_s_k, e_topk, e_table)
        e_records = quantize_fp8(e_vals)
        files['extra-kv-cache'] = e_records
        files['extra-indices'] = e_idx
        files['extra-topk-length'] = e_lengths
        e_kv = dequantize_fp8(e_records, d, e_page)
        gathered.append(e_kv[np.maximum(e_idx, 0)])
        invalid.append((e_idx < 0) | (np.arange(e_topk)[None, None, :] >= e_lengths[:, None, None]))
        what += f' + extra cache page {e_page} s_k {e_s_k} topk {e_topk}'
    g = np.nan_to_num(np.concatenate(gathered, axis=2), nan=0.0)  # [b, s_q, n, d]
    inv = np.concatenate(invalid, axis=2)
    s = np.einsum('bshd,bsnd->bshn', q.astype(np.float64), g) * d ** -0.5
    s = np.where(inv[:, :, None, :], -np.inf, s)
    out, lse, _ = softmax_rows(s, D_V, g, sink.astype(np.float64))
    return dict(kind='sparse', call='run', files=files, args=['--kv', 'fp8'], ref={'out': out, 'lse': lse.transpose(0, 2, 1)}, what=what)


HOSTILE = [-2147483648, -123456, -1]


def prefill_case(seed, d, s_q, s_kv, h_q, topk, sm_scale=0.5):
    r = rng_for(seed)
    kv = bf16(r.standard_normal((s_kv, 1, d)).astype(np.float32))
    q = bf16(r.standard_normal((s_q, h_q, d)).astype(np.float32))
    idx = np.zeros((s_q, 1, topk), dtype=np.int64)
    for t in range(s_q):
        n = min(topk, s_kv)
        idx[t, 0, :n] = r.permutation(s_kv)[:n]
        idx[t, 0, n:] = -1
        bad = r.random(topk) < 0.1
        idx[t, 0, bad] = r.choice(HOSTILE + [s_kv, 2147483647], bad.sum())
    idx[1, 0, :] = -1  # a token with no valid index
    lengths = r.integers(0, topk + 1, s_q).astype(np.int32)
    lengths[2] = 0
    sink = sink_values(r, h_q)
    valid = (idx[:, 0] >= 0) & (idx[:, 0] < s_kv) & (np.arange(topk)[None, :] < lengths[:, None])
    read = np.zeros(s_kv, bool)
    read[idx[:, 0][valid]] = True
    kv[~read] = np.nan  # NaN in every row no valid index reads
    g = np.nan_to_num(kv[np.where(valid, idx[:, 0], 0), 0].astype(np.float64))  # [s_q, topk, d]
    s = np.einsum('thd,tnd->thn', q.astype(np.float64), g) * sm_scale
    s = np.where(valid[:, None, :], s, -np.inf)
    out, lse, mx = softmax_rows(s, D_V, g, sink.astype(np.float64))
    files = {'q': q, 'kv-cache': kv, 'indices': idx.astype(np.int32), 'topk-length': lengths, 'attn-sink': sink}
    return dict(kind='sparse', call='prefill', files=files, args=['--softmax-scale', repr(sm_scale), '--kv', 'bf16', '--check-tokens', 'all'],
                ref={'out': out, 'lse': lse, 'max-logits': mx},
                what=f'sparse prefill d_qk {d} s_q {s_q} s_kv {s_kv} h_q {h_q} topk {topk} (hostile indices, sink, topk_length)')


def cases():
    return [
        lambda: dense_case(1, 2, 1, 140, 64, 1, True, False),
        lambda: dense_case(2, 1, 2, 4096, 128, 8, False, True),
        lambda: dense_case(3, 6, 4, 20, 9, 3, True, True),
        lambda: dense_case(4, 2, 2, 140, 126, 2, True, False),
        lambda: dense_case(5, 1, 1, 4096, 63, 1, False, False),
        lambda: dense_case(6, 8, 2, 300, 64, 8, True, True, zero_seqlen=True),
        lambda: sparse_decode_case(7, 576, 2, 2, 64, 500, 128, 64),
        lambda: sparse_decode_case(8, 576, 3, 1, 128, 300, 64, 53),
        lambda: sparse_decode_case(9, 512, 2, 2, 64, 400, 128, 61, extra=(53, 150, 32)),
        lambda: sparse_decode_case(10, 512, 3, 1, 128, 200, 64, 2),
        lambda: prefill_case(11, 512, 40, 600, 64, 128),
        lambda: prefill_case(12, 576, 24, 300, 128, 64),
    ]


OUTPUTS = {'run': {'out': '--out', 'lse': '--lse'}, 'prefill': {'out': '--out', 'lse': '--lse', 'max-logits': '--max-logits'}}


def run_case(c, dir):
    args = [c['call']]
    for name, value in c['files'].items():
        path = os.path.join(dir, f'{name}.npy')
        np.save(path, value)
        args += [f'--{name}', path]
    outs = {k: os.path.join(dir, f'got-{k}.npy') for k in OUTPUTS[c['call']]}
    for k, flag in OUTPUTS[c['call']].items():
        args += [flag, outs[k]]
    p = subprocess.run(CLI + args + c['args'], capture_output=True, text=True)
    if p.returncode != 0:
        return False, [f'mla-sandbox {" ".join(args[:1])} exited {p.returncode}: {(p.stderr or p.stdout).strip()[-400:]}']
    ok, lines = True, []
    for k, ref in c['ref'].items():
        got = np.load(outs[k])
        if k == 'out':  # FlashMLA's out is bf16: both sides rounded
            res = check_is_allclose(k, bf16(got), bf16(ref.astype(np.float32)), **OUT_TOL[c['kind']])
        else:
            res = check_is_allclose(k, got, ref, **LSE_TOL)
        ok &= res[0]
        lines.append(res[1])
    return ok, lines


def main():
    made = cases()
    if '--list' in sys.argv:
        for f in made:
            print(f()['what'])
        return 0
    adapter = os.environ.get('MLA_ADAPTER', 'auto')
    print(f'# FlashMLA cases checked independently (numpy float64 reference), MLA_ADAPTER={adapter}\n')
    passed = 0
    for f in made:
        c = f()
        with tempfile.TemporaryDirectory() as d:
            ok, lines = run_case(c, d)
        passed += ok
        print(f'{"PASS" if ok else "FAIL"}  {c["what"]}\n      ' + '\n      '.join(lines))
    print(f'\n{passed} of {len(made)} cases pass FlashMLA\'s tolerances')
    return 0 if passed == len(made) else 1


if __name__ == '__main__':
    sys.exit(main())
