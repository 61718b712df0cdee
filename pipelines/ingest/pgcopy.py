"""Arrow columns → PostgreSQL binary COPY data, built by Arrow compute and numpy kernels (no Python per value).

The format (PostgreSQL docs, "COPY … Binary Format"): a header, then per row an int16 field count and per field an
int32 byte length (-1 for NULL) followed by the type's binary "recv" representation, then an int16 -1 trailer. Each
column becomes one or two arrays of pieces (lengths, then bytes); one Arrow `take` in row order lays every piece out
as the COPY stream has it.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"
TEXT, VARCHAR, JSONB, UUID, TIMESTAMPTZ, NUMERIC = 25, 1043, 3802, 2950, 1184, 1700
# 2000-01-01 (PostgreSQL's epoch) in microseconds since 1970-01-01
_PG_EPOCH_US = 946_684_800_000_000
_HEX = np.full(256, 255, dtype=np.uint8)
_HEX[np.frombuffer(b"0123456789abcdef", np.uint8)] = np.arange(16, dtype=np.uint8)
_HEX[np.frombuffer(b"ABCDEF", np.uint8)] = np.arange(10, 16, dtype=np.uint8)


def _packed(matrix: np.ndarray) -> pa.Array:
    """Rows of a (n, width) uint8 matrix as a binary array."""
    n, width = matrix.shape
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), n, [None, pa.py_buffer(
        np.ascontiguousarray(matrix).tobytes())]).cast(pa.binary())


def _with_length(payload: np.ndarray) -> np.ndarray:
    """Fixed-width payloads (n, width) with their int32 length in front: whole cells."""
    n, width = payload.shape
    length = np.broadcast_to(np.frombuffer(width.to_bytes(4, "big"), np.uint8), (n, 4))
    return np.concatenate([length, payload], axis=1)


def _uuid(column: pa.Array) -> np.ndarray:
    """Canonical uuid text (8-4-4-4-12 hex, any case) → the 16 bytes of uuid_recv."""
    n = len(column)
    text = pc.fill_null(column, "00000000-0000-0000-0000-000000000000").cast(pa.binary())
    if n and not (pc.binary_length(text).to_numpy() == 36).all():
        raise ValueError("uuid column holds a value that is not canonical uuid text")
    offsets = np.frombuffer(text.buffers()[1], np.int32, n + 1, text.offset * 4)
    data = np.frombuffer(text.buffers()[2], np.uint8)[offsets[0]:offsets[-1]].reshape(n, 36)
    digits = _HEX[np.delete(data, [8, 13, 18, 23], axis=1)]
    if (digits == 255).any():
        raise ValueError("uuid column holds a value that is not hexadecimal")
    return (digits[:, 0::2] << 4) | digits[:, 1::2]


def _timestamptz(column: pa.Array) -> np.ndarray:
    micros = pc.fill_null(column.cast(pa.timestamp("us", "UTC")).cast(pa.int64()), 0).to_numpy() - _PG_EPOCH_US
    return micros.astype(">i8").view(np.uint8).reshape(-1, 8)


def _numeric(column: pa.Array) -> np.ndarray:
    """decimal128(p, s) with |unscaled| < 2**59 → numeric_recv: ndigits, weight, sign, dscale, base-10000 digits.

    The unscaled integer is widened to a multiple of four decimal places so its base-10000 groups line up with the
    decimal point; five integer groups and the fractional groups are always sent (numeric_recv strips the zeros).
    """
    scale = column.type.scale
    words = np.frombuffer(column.buffers()[1], np.int64, 2 * len(column), column.offset * 16)
    unscaled = np.where(column.is_valid().to_numpy(zero_copy_only=False), words[0::2], 0)
    pad = (4 - scale % 4) % 4
    magnitude = np.abs(unscaled)
    if magnitude.max(initial=0) >= 2 ** 59 // 10 ** pad:
        raise ValueError("numeric value too large for the COPY encoder")
    magnitude = magnitude * 10 ** pad
    groups = 5 + (scale + pad) // 4
    digits = np.empty((len(column), groups), dtype=np.int64)
    for g in range(groups - 1, -1, -1):
        digits[:, g] = magnitude % 10000
        magnitude = magnitude // 10000
    header = np.empty((len(column), 4), dtype=np.int64)
    header[:, 0], header[:, 1] = groups, 4
    header[:, 2] = np.where(unscaled < 0, 0x4000, 0)
    header[:, 3] = scale
    return np.concatenate([header, digits], axis=1).astype(">i2").view(np.uint8).reshape(len(column), -1)


def _pieces(column: pa.Array, oid: int) -> list[pa.Array]:
    """A column as one or two arrays whose elements, taken in turn for a row, make that row's field (its int32
    length, then its bytes); what a NULL's elements hold does not matter, they are never taken."""
    if oid in (TEXT, VARCHAR, JSONB):
        payload = column.cast(pa.string()).cast(pa.binary())
        lengths = pc.fill_null(pc.binary_length(payload), 0).to_numpy().astype(">i4")
        if oid != JSONB:
            return [_packed(lengths.view(np.uint8).reshape(-1, 4)), payload]
        # jsonb_recv: a version byte, then the JSON text, which Postgres parses and validates
        prefix = np.concatenate([(lengths + 1).astype(">i4").view(np.uint8).reshape(-1, 4),
                                 np.ones((len(lengths), 1), np.uint8)], axis=1)
        return [_packed(prefix), payload]
    if oid == UUID:
        return [_packed(_with_length(_uuid(column)))]
    if oid == TIMESTAMPTZ:
        return [_packed(_with_length(_timestamptz(column)))]
    if oid == NUMERIC:
        return [_packed(_with_length(_numeric(column)))]
    raise TypeError(f"no binary COPY encoder for type oid {oid}")


def constant_cell(value: str | None, oid: int) -> bytes:
    """One field's encoding, for a value shared by every row (the file's source and path)."""
    return b"".join(piece[0].as_py() for piece in _pieces(pa.array([value], pa.string()), oid)) \
        if value is not None else _NULL


_NULL = b"\xff\xff\xff\xff"


def encode(table: pa.Table, oids: list[int], constants: list[bytes] = (), *, chunk_rows: int = 100_000
           ) -> Iterator[memoryview]:
    """The binary COPY data (without HEADER and TRAILER) of `table`'s rows, `chunk_rows` at a time; each row's
    fields are the table's columns (types `oids`) followed by the pre-encoded `constants`.

    All pieces of all fields go into one binary array; one `take` in row order then lays their bytes out exactly
    as the COPY stream has them (a NULL field takes the shared -1 length and nothing else).
    """
    fixed = [(len(oids) + len(constants)).to_bytes(2, "big"), _NULL, b"", *constants]
    for start in range(0, table.num_rows, chunk_rows):
        part = table.slice(start, chunk_rows)
        n = part.num_rows
        rows = np.arange(n, dtype=np.int64)
        arrays = [pa.array(fixed, pa.binary())]
        base = len(fixed)
        index = [np.zeros(n, np.int64)]
        for i, oid in enumerate(oids):
            column = part.column(i).combine_chunks()
            valid = column.is_valid().to_numpy(zero_copy_only=False) if column.null_count else None
            if column.null_count == n:
                index.append(np.ones(n, np.int64))
                continue
            for j, piece in enumerate(_pieces(column, oid)):
                arrays.append(piece)
                at = base + rows
                index.append(at if valid is None else np.where(valid, at, 1 if j == 0 else 2))
                base += n
        index.extend(np.full(n, 3 + k, np.int64) for k in range(len(constants)))
        order = np.stack(index, axis=1).ravel()
        laid = pa.concat_arrays(arrays).take(pa.array(order))
        offsets = np.frombuffer(laid.buffers()[1], np.int32, len(laid) + 1, laid.offset * 4)
        yield memoryview(laid.buffers()[2])[offsets[0]:offsets[-1]]
