"""Lossless compression of int16 PCM for the upload (decoder: firmware/protocol/rice.c).

First-order residuals, zigzag-mapped, Rice-coded with one parameter k per block of 128
samples (chosen to minimise the block's bits), escape to 17 raw bits for outliers. Bits are
packed least-significant first. Speech Commands clips shrink about 2:1.
"""

from __future__ import annotations

import struct

import numpy as np

BLOCK = 128
ESCAPE = 32
RAW_BITS = 17
K_BITS = 4


def rice_encode(pcm: np.ndarray) -> bytes:
    """pcm: int16 [samples] -> the compressed stream (num_samples u32 LE + bits)."""
    x = np.asarray(pcm, dtype=np.int64).reshape(-1)
    n = x.size
    r = np.diff(x, prepend=0)
    z = np.where(r >= 0, 2 * r, -2 * r - 1).astype(np.uint64)
    nblocks = (n + BLOCK - 1) // BLOCK
    zp = np.zeros(nblocks * BLOCK, dtype=np.uint64)
    zp[:n] = z
    valid = np.arange(nblocks * BLOCK) < n
    blocks = zp.reshape(nblocks, BLOCK)
    vmask = valid.reshape(nblocks, BLOCK)
    ks = np.arange(16, dtype=np.uint64)
    q = blocks[:, None, :] >> ks[None, :, None]  # [blocks, k, samples]
    per = np.where(q >= ESCAPE, ESCAPE + RAW_BITS, q + 1 + ks[None, :, None])
    cost = (per * vmask[:, None, :]).sum(axis=2)
    kblk = np.argmin(cost, axis=1).astype(np.uint64)

    k = np.repeat(kblk, BLOCK)[:n]
    q = z >> k
    esc = q >= ESCAPE
    # Fields in stream order: [block header], unary, payload for each sample.
    unary_v = np.where(esc, (np.uint64(1) << np.uint64(ESCAPE)) - np.uint64(1),
                       (np.uint64(1) << np.minimum(q, np.uint64(ESCAPE))) - np.uint64(1))
    unary_n = np.where(esc, ESCAPE, q + 1).astype(np.int64)
    pay_v = np.where(esc, z, z & ((np.uint64(1) << k) - np.uint64(1)))
    pay_n = np.where(esc, RAW_BITS, k).astype(np.int64)
    starts = (np.arange(n) % BLOCK) == 0
    head_v = np.where(starts, k, 0).astype(np.uint64)
    head_n = np.where(starts, K_BITS, 0).astype(np.int64)
    vals_arr = np.stack([head_v, unary_v, pay_v], axis=1).reshape(-1)
    nbits_arr = np.stack([head_n, unary_n, pay_n], axis=1).reshape(-1)
    total = int(nbits_arr.sum())
    field_of_bit = np.repeat(np.arange(vals_arr.size), nbits_arr)
    field_start = np.cumsum(nbits_arr) - nbits_arr
    offset = (np.arange(total) - field_start[field_of_bit]).astype(np.uint64)
    bits = ((vals_arr[field_of_bit] >> offset) & np.uint64(1)).astype(np.uint8)
    return struct.pack("<I", n) + np.packbits(bits, bitorder="little").tobytes()


def rice_decode(data: bytes) -> np.ndarray:
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
    prev = 0
    k = 0
    for i in range(n):
        if i % BLOCK == 0:
            k = take(K_BITS)
        q = 0
        while q < ESCAPE and bits[pos]:
            q += 1
            pos += 1
        if q == ESCAPE:
            z = take(RAW_BITS)
        else:
            pos += 1
            z = (q << k) | take(k)
        r = -((z + 1) >> 1) if z & 1 else z >> 1
        prev += r
        out[i] = prev
    return out
