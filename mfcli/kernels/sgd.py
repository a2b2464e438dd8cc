"""Kernels of biased matrix factorization by blocked, deterministic SGD.

The ratings are cut into a ``B x B`` grid of blocks (rows and columns each
in ``B`` groups). A *stratum* is ``B`` blocks sharing no row group and no
column group: block ``g`` of the stratum with shift ``s`` is (row group ``g``,
column group ``(g + s) % B``). :func:`sgd_epoch` runs the strata one after
another and, inside a stratum, the ``B`` blocks in parallel; each block's
ratings in the order they are stored. Two blocks of a stratum never touch
the same factor row, bias or accumulator, so the result does not depend on
the number of threads or on which thread runs which block (DSGD, Gemulla et
al. 2011; FPSGD, Zhuang et al. 2013, without its dynamic scheduler).

The order inside a block is drawn per epoch by :func:`block_permutation`
from a counter-based generator keyed by (seed, epoch, block), again
independent of threads; the block's entries are copied in that order to work
arrays (by the thread that runs the block) so the SGD loop reads them in
sequence.

Divergence is caught on the fly: a block stops (``ok`` False) when a term of
a prediction (``p_u . q_i``, a bias, the time term) is not finite or beyond a
given ``limit``; no pass over the factors is needed per epoch.

Model: ``r_hat = mu + b_u + b_i + p_u . q_i`` clipped to ``[lo, hi]``, plus
``b_{i,bin(t)} + alpha_u * dev_u(t)`` when time-aware. Per rating, with
``e = r - r_hat`` (all right-hand sides use the values before the update)::

    p_u += s_u * (e q_i - reg_u p_u)      q_i += s_i * (e p_u - reg_i q_i)
    b_u += t_u * (e - reg_bias b_u)       b_i += t_i * (e - reg_bias b_i)
    b_{i,bin} += t_i * (e - reg_bias b_{i,bin})
    alpha_u += t_u * (e dev - reg_bias alpha_u)

``reg_u``/``reg_i`` are per-row L2 weights (``Ru``, ``Rv``; the solver
scales one ``reg`` by the rows' rating counts). With a fixed step ``s_u =
s_i = lr``, ``t_u = t_i = lr_bias``. With AdaGrad
(as LIBMF, Chin et al. 2015) each factor row has one accumulator ``G``
starting at 1: the step is ``lr / sqrt(G)``, then ``G`` grows by the mean
squared gradient of the row's entries; each bias has its own accumulator the
same way (the time terms use their user's or item's bias step).

``FASTMATH`` lets LLVM reassociate sums and fuse multiply-adds (vectorised
dot products) but leaves out ``nnan``/``ninf``, so non-finite values are
still seen by ``np.isfinite``. Parallel kernels are only called from Python.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

# No arcp or nsz: with them, code loaded from numba's cache rounded differently from freshly
# compiled code (seen in kernels/als.py), so a replayed run could differ.
FASTMATH = {"reassoc", "contract"}

# The SGD loop asks for the factor rows of the entry this many places ahead.
PREFETCH = 6

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _cast_like(value, like):  # pragma: no cover - replaced in compiled code
    return like.dtype.type(value)


@overload(_cast_like)
def _cast_like_impl(value, like):
    target = like.dtype

    def impl(value, like):
        return target(value)

    return impl


@intrinsic
def _prefetch_row(typingctx, arr, row):
    """Hint the CPU to fetch (for writing) the cache lines of ``arr[row]``.

    ``arr`` is a C-contiguous 2-D array and ``row`` in range; a hint only
    (``llvm.prefetch``): no value changes, whether or not it is honoured.
    """
    if not (isinstance(arr, types.Array) and arr.ndim == 2 and arr.layout == "C"):
        return None
    if not isinstance(row, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        aryty, rowty = signature.args
        ary = context.make_array(aryty)(context, builder, args[0])
        intp = context.get_value_type(types.intp)
        shape = cgutils.unpack_tuple(builder, ary.shape)
        strides = cgutils.unpack_tuple(builder, ary.strides)
        r = context.cast(builder, args[1], rowty, types.intp)
        i8p = ir.IntType(8).as_pointer()
        base = builder.gep(builder.bitcast(ary.data, i8p), [builder.mul(r, strides[0])])
        itemsize = context.get_abi_sizeof(context.get_data_type(aryty.dtype))
        nbytes = builder.mul(shape[1], ir.Constant(intp, itemsize))
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        with cgutils.for_range_slice(
            builder, ir.Constant(intp, 0), nbytes, ir.Constant(intp, 64), intp=intp
        ) as (offset, _):
            # rw = 1 (for writing), locality 3 (keep in all levels), data cache
            builder.call(fn, [builder.gep(base, [offset]), i32(1), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(arr, row), codegen


# Explicit SIMD for the two row loops of the SGD update. LLVM's loop vectoriser
# runs 4 x 16 float32 lanes per iteration and leaves the rest to a scalar loop:
# with k = 100, 36 of the 100 entries went scalar. These intrinsics run whole
# vectors of LANES entries and one last vector ending at entry k (overlapping the
# full ones; the dot product masks the overlapped lanes out, the update
# computes them again from the same inputs). Rows need at least LANES entries.
_I32 = ir.IntType(32)


def _lanes(dtype) -> int:
    """Vector width (entries) for a numba float dtype: 64 bytes."""
    return 16 if dtype == types.float32 else 8


def _lanes_of(a):  # pragma: no cover - replaced in compiled code
    return 16 if a.dtype == np.float32 else 8


@overload(_lanes_of)
def _lanes_of_impl(a):
    lanes = _lanes(a.dtype)
    return lambda a: lanes


def _row_ptr(context, builder, aryty, value, row, rowty):
    """Pointer to ``value[row, 0]`` of a C-contiguous 2-D array, and its row length."""
    ary = context.make_array(aryty)(context, builder, value)
    k = cgutils.unpack_tuple(builder, ary.shape)[1]
    r = context.cast(builder, row, rowty, types.intp)
    return builder.gep(ary.data, [builder.mul(r, k)]), k


def _vec_at(builder, ptr, offset, vecty):
    return builder.bitcast(builder.gep(ptr, [offset]), vecty.as_pointer())


def _fma_of(builder, vecty, lanes, elt):
    bits = 32 if elt == ir.FloatType() else 64
    fnty = ir.FunctionType(vecty, [vecty] * 3)
    return cgutils.get_or_insert_function(builder.module, fnty, f"llvm.fma.v{lanes}f{bits}")


def _splat(builder, value, lanes):
    vecty = ir.VectorType(value.type, lanes)
    one = builder.insert_element(ir.Constant(vecty, None), value, _I32(0))
    zeros = ir.Constant(ir.VectorType(_I32, lanes), [0] * lanes)
    return builder.shuffle_vector(one, ir.Constant(vecty, None), zeros)


def _hsum(builder, v, lanes):
    """Sum of the lanes of ``v`` (halving tree)."""
    while lanes > 1:
        h = lanes // 2
        lo = builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(_I32, h), list(range(h))))
        hi = ir.Constant(ir.VectorType(_I32, h), list(range(h, lanes)))
        v = builder.fadd(lo, builder.shuffle_vector(v, v, hi))
        lanes = h
    return builder.extract_element(v, _I32(0))


def _two_rows(U, u, V, i) -> bool:
    return (
        isinstance(U, types.Array) and isinstance(V, types.Array)
        and U.ndim == 2 and V.ndim == 2 and U.layout == "C" and V.layout == "C"
        and U.dtype in (types.float32, types.float64) and V.dtype == U.dtype
        and isinstance(u, types.Integer) and isinstance(i, types.Integer)
    )  # fmt: skip


@intrinsic
def _row_dot(typingctx, U, u, V, i):
    """``U[u] . V[i]`` in the arrays' dtype; rows of at least ``_lanes_of(U)`` entries."""
    if not _two_rows(U, u, V, i):
        return None
    lanes = _lanes(U.dtype)

    def codegen(context, builder, signature, args):
        Uty, uty, Vty, ity = signature.args
        elt = context.get_value_type(Uty.dtype)
        vecty = ir.VectorType(elt, lanes)
        intp = context.get_value_type(types.intp)
        pu, k = _row_ptr(context, builder, Uty, args[0], args[1], uty)
        qi, _ = _row_ptr(context, builder, Vty, args[2], args[3], ity)
        fma = _fma_of(builder, vecty, lanes, elt)
        zero = ir.Constant(vecty, None)
        acc = [cgutils.alloca_once_value(builder, zero) for _ in range(2)]
        width = ir.Constant(intp, lanes)
        full = builder.sdiv(k, width)

        def add(offset, j):
            a = builder.load(_vec_at(builder, pu, offset, vecty), align=4)
            b = builder.load(_vec_at(builder, qi, offset, vecty), align=4)
            builder.store(builder.call(fma, [a, b, builder.load(acc[j])]), acc[j])

        # two accumulators, to halve the chain of dependent multiply-adds
        pairs = builder.sdiv(full, ir.Constant(intp, 2))
        with cgutils.for_range(builder, pairs, intp=intp) as loop:
            offset = builder.mul(loop.index, ir.Constant(intp, 2 * lanes))
            add(offset, 0)
            add(builder.add(offset, width), 1)
        with builder.if_then(builder.icmp_signed("!=", builder.add(pairs, pairs), full)):
            add(builder.mul(builder.sub(full, ir.Constant(intp, 1)), width), 0)
        rest = builder.srem(k, width)
        with builder.if_then(builder.icmp_signed("!=", rest, ir.Constant(intp, 0))):
            offset = builder.sub(k, width)
            a = builder.load(_vec_at(builder, pu, offset, vecty), align=4)
            b = builder.load(_vec_at(builder, qi, offset, vecty), align=4)
            # lanes below lanes - rest were counted by the full vectors
            first = _splat(builder, builder.trunc(builder.sub(width, rest), _I32), lanes)
            index = ir.Constant(ir.VectorType(_I32, lanes), list(range(lanes)))
            keep = builder.icmp_signed(">=", index, first)
            part = builder.select(keep, builder.fmul(a, b), zero)
            builder.store(builder.fadd(builder.load(acc[1]), part), acc[1])
        return _hsum(builder, builder.fadd(builder.load(acc[0]), builder.load(acc[1])), lanes)

    return U.dtype(U, u, V, i), codegen


@intrinsic
def _row_update(typingctx, U, u, V, i, su, si, se):
    """``U[u], V[i] = su U[u] + se V[i], si V[i] + se U[u]`` (right-hand sides before).

    Rows of at least ``_lanes_of(U)`` entries; the scalars are cast to the dtype.
    """
    if not _two_rows(U, u, V, i):
        return None
    lanes = _lanes(U.dtype)
    dt = U.dtype

    def codegen(context, builder, signature, args):
        Uty, uty, Vty, ity = signature.args[:4]
        elt = context.get_value_type(dt)
        vecty = ir.VectorType(elt, lanes)
        intp = context.get_value_type(types.intp)
        pu, k = _row_ptr(context, builder, Uty, args[0], args[1], uty)
        qi, _ = _row_ptr(context, builder, Vty, args[2], args[3], ity)
        fma = _fma_of(builder, vecty, lanes, elt)
        vsu, vsi, vse = (
            _splat(builder, context.cast(builder, args[j], signature.args[j], dt), lanes)
            for j in (4, 5, 6)
        )
        width = ir.Constant(intp, lanes)
        tail = builder.sub(k, width)
        # the last vector, read before any entry is updated
        pt = builder.load(_vec_at(builder, pu, tail, vecty), align=4)
        qt = builder.load(_vec_at(builder, qi, tail, vecty), align=4)

        def step(offset, a, b):
            a2 = builder.call(fma, [vsu, a, builder.fmul(vse, b)])
            b2 = builder.call(fma, [vsi, b, builder.fmul(vse, a)])
            builder.store(a2, _vec_at(builder, pu, offset, vecty), align=4)
            builder.store(b2, _vec_at(builder, qi, offset, vecty), align=4)

        with cgutils.for_range(builder, builder.sdiv(k, width), intp=intp) as loop:
            offset = builder.mul(loop.index, width)
            a = builder.load(_vec_at(builder, pu, offset, vecty), align=4)
            b = builder.load(_vec_at(builder, qi, offset, vecty), align=4)
            step(offset, a, b)
        rest = builder.srem(k, width)
        with builder.if_then(builder.icmp_signed("!=", rest, ir.Constant(intp, 0))):
            step(tail, pt, qt)
        return context.get_dummy_value()

    return types.void(U, u, V, i, su, si, se), codegen


# ------------------------------------------------------------ random numbers
@njit(cache=True)
def _mix(x):
    """SplitMix64 finaliser of ``x + golden`` (uint64 in, uint64 out)."""
    z = x + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@njit(cache=True)
def stream_key(seed, a, b):
    """A uint64 key for stream ``(a, b)`` of ``seed`` (all non-negative ints)."""
    return _mix(_mix(_mix(np.uint64(seed)) ^ np.uint64(a)) ^ np.uint64(b))


@njit(cache=True)
def _unit(key, counter):
    """Uniform in [0, 1) from ``key`` and a counter (53 bits)."""
    return np.float64(_mix(key ^ _mix(np.uint64(counter))) >> np.uint64(11)) * (
        1.0 / 9007199254740992.0
    )


@njit(cache=True)
def _draw(key, counter):
    """uint64 number ``counter`` of the stream ``key`` (SplitMix64: one mix)."""
    return _mix(np.uint64(key) + np.uint64(counter) * _GOLDEN)


# Irwin-Hall: the sum of the four 16-bit fields of a draw has mean 2 * 65535
# and standard deviation 65536 / sqrt(3) (to 1e-5).
_IH_MEAN = 131070.0
_IH_SCALE = np.sqrt(3.0) / 65536.0


@njit(cache=True, parallel=True)
def init_factors(out, first, seed, stream, scale, uniform):
    """Seeded initial factors for rows ``first..`` of ``out``, in place.

    Row ``r`` depends only on ``(seed, stream, r)``, so a row gets the same
    values whatever the array's size or the thread count (resumed fits give
    new rows the values a fresh fit would have). One SplitMix64 draw per
    entry: "normal" is the Irwin-Hall sum of its four 16-bit fields, centred
    and scaled to standard deviation ``scale`` (a near-normal bell within
    ``+-2 sqrt(3) scale``).

    Parameters
    ----------
    out : (n, k) float32 or float64, C-contiguous; rows ``first..n-1`` written
    first : first row to write
    seed : non-negative int
    stream : 0 for users, 1 for items
    scale : standard deviation (near-normal) or upper bound (uniform)
    uniform : draw uniform on ``[0, scale)`` instead
    """
    k = out.shape[1]
    mask = np.uint64(0xFFFF)
    s16 = np.uint64(16)
    s32 = np.uint64(32)
    s48 = np.uint64(48)
    s11 = np.uint64(11)
    unit = scale * (1.0 / 9007199254740992.0)
    bell = scale * _IH_SCALE
    for r in prange(first, out.shape[0]):
        key = stream_key(seed, stream, r)
        row = out[r]
        if uniform:
            for c in range(k):
                row[c] = np.float64(_draw(key, c) >> s11) * unit
        else:
            for c in range(k):
                x = _draw(key, c)
                s = (x & mask) + ((x >> s16) & mask) + ((x >> s32) & mask) + (x >> s48)
                row[c] = (np.float64(s) - _IH_MEAN) * bell


# ------------------------------------------------------------ block layout
@njit(cache=True)
def block_order(rows, cols, row_group, col_group, n_groups):
    """Group the entries by block (a stable counting sort).

    Parameters
    ----------
    rows, cols : (nnz,) int32 or int64 row and column of each entry
    row_group : (m,) int64 group of each row, in ``0..n_groups-1``
    col_group : (n,) int64 group of each column
    n_groups : B

    Returns
    -------
    ptr : (B * B + 1,) int64, block ``g * B + h`` holds positions ``ptr[.]..ptr[. + 1]``
    order : (nnz,) int64 entry at each position, entries of a block in input order
    """
    n_blocks = n_groups * n_groups
    ptr = np.zeros(n_blocks + 1, dtype=np.int64)
    nnz = rows.shape[0]
    for t in range(nnz):
        ptr[row_group[rows[t]] * n_groups + col_group[cols[t]] + 1] += 1
    for b in range(n_blocks):
        ptr[b + 1] += ptr[b]
    fill = ptr[:n_blocks].copy()
    order = np.empty(nnz, dtype=np.int64)
    for t in range(nnz):
        b = row_group[rows[t]] * n_groups + col_group[cols[t]]
        order[fill[b]] = t
        fill[b] += 1
    return ptr, order


@njit(cache=True)
def block_permutation(perm, lo, hi, key):
    """``perm[lo:hi]`` = a random permutation of ``lo..hi-1`` drawn from ``key``.

    Inside-out Fisher-Yates: position ``p`` draws ``q`` in ``lo..p`` from draw
    ``p - lo`` of the stream (Lemire's multiply-shift on its upper 32 bits).
    """
    s32 = np.uint64(32)
    for p in range(lo, hi):
        x = _draw(key, p - lo)
        q = lo + np.int64(((x >> s32) * np.uint64(p - lo + 1)) >> s32)
        perm[p] = perm[q]
        perm[q] = p


@njit(cache=True)
def _gather(perm, lo, hi, src_i, src_j, src_v, src_bin, src_dev, dst_i, dst_j, dst_v, dst_bin,
            dst_dev):  # fmt: skip
    """``dst_*[p] = src_*[perm[p]]`` for ``p`` in ``lo..hi-1`` (time parts when given)."""
    timed = src_bin.shape[0] > 0
    for p in range(lo, hi):
        s = perm[p]
        dst_i[p] = src_i[s]
        dst_j[p] = src_j[s]
        dst_v[p] = src_v[s]
        if timed:
            dst_bin[p] = src_bin[s]
            dst_dev[p] = src_dev[s]


@njit(cache=True, fastmath=FASTMATH)
def _block(lo, hi, ri, cj, vals, tbin, tdev, U, V, bu, bv, Gu, Gv, Gbu, Gbv, tbias, alpha,
           Ru, Rv, mu, clip_lo, clip_hi, lr, lr_bias, reg_bias, biases, adagrad, timed,
           limit):  # fmt: skip
    """SGD over positions ``lo..hi-1``; returns (sum of squared errors, ok).

    ``ok`` is False (and the block stops) when a term of a prediction (the
    dot product, a bias, a time term) is not finite or larger than ``limit``
    in magnitude.
    """
    k = U.shape[1]
    inv_k = 1.0 / k
    sse = 0.0
    wide = k >= _lanes_of(U)
    for t in range(lo, hi):
        if t + PREFETCH < hi:
            _prefetch_row(U, ri[t + PREFETCH])
            _prefetch_row(V, cj[t + PREFETCH])
        u = ri[t]
        i = cj[t]
        pu = U[u]
        qi = V[i]
        if wide:
            dot = _row_dot(U, u, V, i)
        else:
            dot = _cast_like(0.0, pu)
            for c in range(k):
                dot += pu[c] * qi[c]
        if not abs(dot) <= limit:
            return sse, False
        pred = mu + dot
        if biases:
            b_u = bu[u]
            b_i = bv[i]
            if not (abs(b_u) <= limit and abs(b_i) <= limit):
                return sse, False
            pred += b_u + b_i
        if timed:
            drift = tbias[i, tbin[t]] + alpha[u] * tdev[t]
            if not abs(drift) <= limit:
                return sse, False
            pred += drift
        pred = min(max(pred, clip_lo), clip_hi)
        e = vals[t] - pred
        sse += e * e
        ef = _cast_like(e, pu)
        if adagrad:
            su = _cast_like(lr / np.sqrt(Gu[u]), pu)
            si = _cast_like(lr / np.sqrt(Gv[i]), pu)
            ru = _cast_like(Ru[u], pu)
            rv = _cast_like(Rv[i], pu)
            gu2 = _cast_like(0.0, pu)
            gi2 = _cast_like(0.0, pu)
            for c in range(k):
                p = pu[c]
                q = qi[c]
                gp = ef * q - ru * p
                gq = ef * p - rv * q
                gu2 += gp * gp
                gi2 += gq * gq
                pu[c] = p + su * gp
                qi[c] = q + si * gq
            Gu[u] += gu2 * inv_k
            Gv[i] += gi2 * inv_k
        else:
            su = _cast_like(1.0 - lr * Ru[u], pu)
            si = _cast_like(1.0 - lr * Rv[i], pu)
            se = _cast_like(lr * e, pu)
            if wide:
                _row_update(U, u, V, i, su, si, se)
            else:
                for c in range(k):
                    p = pu[c]
                    q = qi[c]
                    pu[c] = su * p + se * q
                    qi[c] = si * q + se * p
        if biases or timed:
            if adagrad:
                tu = lr_bias / np.sqrt(Gbu[u])
                ti = lr_bias / np.sqrt(Gbv[i])
            else:
                tu = lr_bias
                ti = lr_bias
            if biases:
                gbu = e - reg_bias * bu[u]
                gbv = e - reg_bias * bv[i]
                bu[u] += tu * gbu
                bv[i] += ti * gbv
                if adagrad:
                    Gbu[u] += gbu * gbu
                    Gbv[i] += gbv * gbv
            if timed:
                bb = tbin[t]
                tbias[i, bb] += ti * (e - reg_bias * tbias[i, bb])
                alpha[u] += tu * (e * tdev[t] - reg_bias * alpha[u])
    return sse, True


@njit(cache=True, fastmath=FASTMATH)
def _block_plain(lo, hi, ri, cj, vals, U, V, bu, bv, Ru, Rv, mu, clip_lo, clip_hi, lr, lr_bias,
                 reg_bias, biases, limit):  # fmt: skip
    """:func:`_block` for the common case: plain steps, no time terms, rows of at least
    ``_lanes_of(U)`` entries (the same updates, without the branches of the other cases,
    which cost a quarter of the time per rating)."""
    sse = 0.0
    for t in range(lo, hi):
        if t + PREFETCH < hi:
            _prefetch_row(U, ri[t + PREFETCH])
            _prefetch_row(V, cj[t + PREFETCH])
        u = ri[t]
        i = cj[t]
        dot = _row_dot(U, u, V, i)
        # The checks below repeat _block's on purpose: an inlined helper returning
        # (prediction, ok) made this loop ~20% slower (FilmTrust fit 27 vs 22 ms).
        if not abs(dot) <= limit:
            return sse, False
        pred = mu + dot
        if biases:
            b_u = bu[u]
            b_i = bv[i]
            if not (abs(b_u) <= limit and abs(b_i) <= limit):
                return sse, False
            pred += b_u + b_i
        pred = min(max(pred, clip_lo), clip_hi)
        e = vals[t] - pred
        sse += e * e
        su = _cast_like(1.0 - lr * Ru[u], U)
        si = _cast_like(1.0 - lr * Rv[i], U)
        _row_update(U, u, V, i, su, si, _cast_like(lr * e, U))
        if biases:
            bu[u] += lr_bias * (e - reg_bias * bu[u])
            bv[i] += lr_bias * (e - reg_bias * bv[i])
    return sse, True


@njit(cache=True, parallel=True)
def sgd_epoch(ptr, shifts, seed, epoch, perm, src_i, src_j, src_v, src_bin, src_dev, ri, cj,
              vals, tbin, tdev, U, V, bu, bv, Gu, Gv, Gbu, Gbv, tbias, alpha, Ru, Rv, mu,
              clip_lo, clip_hi, lr, lr_bias, reg_bias, biases, adagrad, timed, limit, sse,
              ok):  # fmt: skip
    """One SGD epoch over a ``B x B`` grid of blocks, in place.

    Each block first draws its order with :func:`block_permutation` from the
    stream ``(seed, epoch, b)`` and copies its entries from ``src_*`` to the
    work arrays ``ri, cj, vals, tbin, tdev`` in that order, then runs them.
    So the epoch depends on neither the thread count nor the thread a block
    runs on.

    Parameters
    ----------
    ptr : (B * B + 1,) int64 block boundaries; block ``g * B + h`` is row
        group ``g``, column group ``h``
    shifts : (n_strata,) int64 strata in the order run (each in ``0..B-1``)
    seed, epoch : non-negative ints, the stream of the orders inside blocks
    perm : (nnz,) int64, overwritten with the order run (positions into ``src_*``)
    src_i, src_j : (nnz,) int32 row and column of each entry, grouped by block
    src_v : (nnz,) ratings in the factors' dtype
    src_bin : (nnz,) int32 time bin of each entry, or (0,) when not ``timed``
    src_dev : (nnz,) user time deviation of each entry, or (0,)
    ri, cj, vals, tbin, tdev : work arrays of the same shapes and dtypes, overwritten
    U : (m, k) float32 or float64, C-contiguous; V : (n, k) same dtype
    bu, bv : (m,), (n,) biases (read and updated only with ``biases``)
    Gu, Gv, Gbu, Gbv : (m,), (n,), (m,), (n,) AdaGrad accumulators (only with ``adagrad``)
    tbias : (n, bins) time-binned item biases; alpha : (m,) user drift
        (only with ``timed``)
    mu : global bias
    clip_lo, clip_hi : predictions are clipped to this range
    lr, lr_bias : steps of the factors and of the biases
    Ru, Rv : (m,), (n,) L2 weight of each user's and item's factors
    reg_bias : L2 weight of the biases
    biases, adagrad, timed : bool switches
    limit : divergence bound on the magnitude of each term of a prediction
        (dot product, biases, time term)
    sse : (B * B,) float64, out: sum of squared errors per block
    ok : (B * B,) bool, out: False where a non-finite or too large term
        stopped the block
    """
    n_groups = np.int64(np.sqrt(ptr.shape[0] - 1) + 0.5)
    plain = not adagrad and not timed and U.shape[1] >= _lanes_of(U)
    sse[:] = 0.0
    ok[:] = True
    for s in range(shifts.shape[0]):
        shift = shifts[s]
        for g in prange(n_groups):
            b = g * n_groups + (g + shift) % n_groups
            lo = ptr[b]
            hi = ptr[b + 1]
            block_permutation(perm, lo, hi, stream_key(seed, epoch, b))
            _gather(perm, lo, hi, src_i, src_j, src_v, src_bin, src_dev, ri, cj, vals, tbin,
                    tdev)  # fmt: skip
            if plain:
                part, good = _block_plain(lo, hi, ri, cj, vals, U, V, bu, bv, Ru, Rv, mu,
                                          clip_lo, clip_hi, lr, lr_bias, reg_bias, biases,
                                          limit)  # fmt: skip
            else:
                part, good = _block(lo, hi, ri, cj, vals, tbin, tdev, U, V, bu, bv, Gu, Gv,
                                    Gbu, Gbv, tbias, alpha, Ru, Rv, mu, clip_lo, clip_hi, lr,
                                    lr_bias, reg_bias, biases, adagrad, timed, limit)  # fmt: skip
            sse[b] = part
            ok[b] = good


# ------------------------------------------------------------ predictions
@njit(cache=True, parallel=True, fastmath=FASTMATH)
def predict_entries(rows, cols, U, V, bu, bv, mu, clip_lo, clip_hi, tbin, tdev, tbias, alpha, out):
    """Clipped predictions at given (row, column) pairs.

    Parameters
    ----------
    rows, cols : (q,) int64 indices (in range)
    U, V : (m, k), (n, k) factors
    bu, bv : (m,), (n,) biases, or (0,) for none
    mu : global bias
    clip_lo, clip_hi : clip range
    tbin, tdev : (q,) time bin and user deviation per pair, or (0,) for the static model
    tbias : (n, bins) or (0, 0); alpha : (m,) or (0,)
    out : (q,) float64, overwritten
    """
    biased = bu.shape[0] > 0
    timed = tbin.shape[0] > 0
    k = U.shape[1]
    for t in prange(rows.shape[0]):
        u = rows[t]
        i = cols[t]
        acc = 0.0
        for c in range(k):
            acc += U[u, c] * V[i, c]
        pred = mu + acc
        if biased:
            pred += bu[u] + bv[i]
        if timed:
            pred += tbias[i, tbin[t]] + alpha[u] * tdev[t]
        out[t] = min(max(pred, clip_lo), clip_hi)
