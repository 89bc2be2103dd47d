"""Lossless compression of int16 PCM for the upload (decoder: firmware/protocol/rice.c).

Residuals of a fixed predictor, zigzag-mapped, Rice-coded with one parameter k per block of
128 samples (chosen to minimise the block's bits), escape to raw bits for outliers. Bits are
packed least-significant first. Two stream formats: first-order prediction only (input kind 3,
17-bit escapes), and a predictor order 0-3 chosen per block, written before k in 2 bits (kind
4, 20-bit escapes), 5.5% smaller on Speech Commands. Clips shrink about 2:1.
"""

from __future__ import annotations

import struct

import numpy as np

BLOCK = 128
ESCAPE = 32
K_BITS = 4
ORDER_BITS = 2


def _raw_bits(orders: bool) -> int:
    return 20 if orders else 17


def _residuals(x: np.ndarray, order: int) -> np.ndarray:
    """x[i] minus the order-`order` fixed prediction from the samples before it (zeros first)."""
    xp = np.concatenate([np.zeros(3, np.int64), x])
    a, b, c = xp[2:-1], xp[1:-2], xp[:-3]  # x[i-1], x[i-2], x[i-3]
    prediction = (np.zeros_like(x), a, 2 * a - b, 3 * a - 3 * b + c)[order]
    return x - prediction


def rice_encode(pcm: np.ndarray, orders: bool = False) -> bytes:
    """pcm: int16 [samples] -> the compressed stream (num_samples u32 LE + bits); ``orders``
    picks the predictor order per block (the kind 4 format)."""
    x = np.asarray(pcm, dtype=np.int64).reshape(-1)
    n = x.size
    raw_bits = _raw_bits(orders)
    nblocks = (n + BLOCK - 1) // BLOCK
    valid = (np.arange(nblocks * BLOCK) < n).reshape(nblocks, BLOCK)

    def blocks_of(z: np.ndarray) -> np.ndarray:
        zp = np.zeros(nblocks * BLOCK, dtype=z.dtype)
        zp[:n] = z
        return zp.reshape(nblocks, BLOCK)

    zs = []
    for order in range(4) if orders else (1,):
        r = _residuals(x, order)
        zs.append(np.where(r >= 0, 2 * r, -2 * r - 1).astype(np.uint32))
    # Each block's order: the smallest sum of mapped residuals (as FLAC chooses), then its k
    # by the exact bit count.
    sums = np.stack([blocks_of(z).sum(axis=1, dtype=np.uint64) for z in zs])  # [order, blocks]
    choice = np.repeat(sums.argmin(axis=0), BLOCK)[:n]  # index into zs = the order when orders
    z = np.choose(choice, zs).astype(np.uint64)  # each sample's chosen residual
    ks = np.arange(16, dtype=np.uint64)
    q = blocks_of(z)[:, None, :] >> ks[None, :, None]  # [blocks, k, samples]
    per = np.where(q >= ESCAPE, ESCAPE + raw_bits, q + 1 + ks[None, :, None])
    kblk = np.argmin((per * valid[:, None, :]).sum(axis=2), axis=1).astype(np.uint64)

    k = np.repeat(kblk, BLOCK)[:n]
    q = z >> k
    esc = q >= ESCAPE
    # Fields in stream order: [block header], unary, payload for each sample.
    unary_v = np.where(esc, (np.uint64(1) << np.uint64(ESCAPE)) - np.uint64(1),
                       (np.uint64(1) << np.minimum(q, np.uint64(ESCAPE))) - np.uint64(1))
    unary_n = np.where(esc, ESCAPE, q + 1).astype(np.int64)
    pay_v = np.where(esc, z, z & ((np.uint64(1) << k) - np.uint64(1)))
    pay_n = np.where(esc, raw_bits, k).astype(np.int64)
    starts = (np.arange(n) % BLOCK) == 0
    header_bits = K_BITS + (ORDER_BITS if orders else 0)
    header = k
    if orders:  # order in the low bits: read first
        header = (k << np.uint64(ORDER_BITS)) | choice.astype(np.uint64)
    head_v = np.where(starts, header, 0).astype(np.uint64)
    head_n = np.where(starts, header_bits, 0).astype(np.int64)
    vals_arr = np.stack([head_v, unary_v, pay_v], axis=1).reshape(-1)
    nbits_arr = np.stack([head_n, unary_n, pay_n], axis=1).reshape(-1)
    total = int(nbits_arr.sum())
    field_of_bit = np.repeat(np.arange(vals_arr.size), nbits_arr)
    field_start = np.cumsum(nbits_arr) - nbits_arr
    offset = (np.arange(total) - field_start[field_of_bit]).astype(np.uint64)
    bits = ((vals_arr[field_of_bit] >> offset) & np.uint64(1)).astype(np.uint8)
    return struct.pack("<I", n) + np.packbits(bits, bitorder="little").tobytes()


def rice_decode(data: bytes, orders: bool = False) -> np.ndarray:
    """Reference decoder (slow, for tests): the stream -> int16 [samples]."""
    (n,) = struct.unpack_from("<I", data)
    bits = np.unpackbits(np.frombuffer(data[4:], dtype=np.uint8), bitorder="little")
    pos = 0

    def take(m: int) -> int:
        nonlocal pos
        v = 0
        for i in range(m):
            v |= int(bits[pos + i]) << i
        pos += m
        return v

    out = np.zeros(n, dtype=np.int16)
    x1 = x2 = x3 = 0
    k, order = 0, 1
    for i in range(n):
        if i % BLOCK == 0:
            if orders:
                order = take(ORDER_BITS)
            k = take(K_BITS)
        q = 0
        while q < ESCAPE and bits[pos]:
            q += 1
            pos += 1
        if q == ESCAPE:
            z = take(_raw_bits(orders))
        else:
            pos += 1
            z = (q << k) | take(k)
        r = -((z + 1) >> 1) if z & 1 else z >> 1
        x = r + (0, x1, 2 * x1 - x2, 3 * x1 - 3 * x2 + x3)[order]
        out[i] = x
        x1, x2, x3 = x, x1, x2
    return out
