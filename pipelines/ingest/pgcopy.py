"""Arrow columns → PostgreSQL binary COPY data, built by Arrow compute and numpy kernels (no Python per value).

The format (PostgreSQL docs, "COPY … Binary Format"): a header, then per row an int16 field count and per field an
int32 byte length (-1 for NULL) followed by the type's binary "recv" representation, then an int16 -1 trailer. Each
column is turned into one array of whole encoded cells; the cells are joined row-wise with
`binary_join_element_wise`, whose data buffer is then exactly the COPY stream of those rows.
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


def _fixed(matrix: np.ndarray, valid: np.ndarray | None) -> pa.Array:
    """Rows of a (n, width) uint8 matrix as a binary array (null where not `valid`)."""
    n, width = matrix.shape
    mask = None if valid is None else pa.array(~valid)
    fixed = pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), n, [None, pa.py_buffer(np.ascontiguousarray(
        matrix).tobytes())])
    return pc.if_else(mask, pa.nulls(n, pa.binary()), fixed.cast(pa.binary())) if mask is not None else fixed.cast(
        pa.binary())


def _uuid(column: pa.Array) -> pa.Array:
    """Canonical uuid text (8-4-4-4-12 hex, any case) → the 16 bytes of uuid_recv; nulls stay null."""
    n = len(column)
    valid = column.is_valid().to_numpy(zero_copy_only=False)
    text = pc.fill_null(column, "00000000-0000-0000-0000-000000000000").cast(pa.binary())
    lengths = pc.binary_length(text).to_numpy()
    if n and not (lengths == 36).all():
        raise ValueError("uuid column holds a value that is not canonical uuid text")
    offsets = np.frombuffer(text.buffers()[1], np.int32, n + 1, text.offset * 4)
    data = np.frombuffer(text.buffers()[2], np.uint8)[offsets[0]:offsets[-1]].reshape(n, 36)
    digits = _HEX[np.delete(data, [8, 13, 18, 23], axis=1)]
    if (digits == 255).any():
        raise ValueError("uuid column holds a value that is not hexadecimal")
    packed = (digits[:, 0::2] << 4) | digits[:, 1::2]
    return _fixed(packed, None if valid.all() else valid)


def _timestamptz(column: pa.Array) -> pa.Array:
    micros = pc.fill_null(column.cast(pa.timestamp("us", "UTC")).cast(pa.int64()), 0).to_numpy() - _PG_EPOCH_US
    valid = column.is_valid().to_numpy(zero_copy_only=False)
    return _fixed(micros.astype(">i8").view(np.uint8).reshape(-1, 8), None if valid.all() else valid)


def _numeric(column: pa.Array) -> pa.Array:
    """decimal128(p, s) with |unscaled| < 2**63 → numeric_recv: ndigits, weight, sign, dscale, base-10000 digits.

    The unscaled integer is widened to a multiple of four decimal places so its base-10000 groups line up with the
    decimal point; five integer groups and the fractional groups are always sent (numeric_recv strips the zeros).
    """
    scale = column.type.scale
    valid = column.is_valid().to_numpy(zero_copy_only=False)
    words = np.frombuffer(column.buffers()[1], np.int64, 2 * len(column), column.offset * 16)
    unscaled = words[0::2].copy()
    unscaled[~valid] = 0
    pad = (4 - scale % 4) % 4
    frac_groups = (scale + pad) // 4
    magnitude = np.abs(unscaled).astype(object if pad and np.abs(unscaled).max(initial=0) > 9 * 10 ** 14 else np.int64)
    magnitude = magnitude * 10 ** pad
    groups = 5 + frac_groups
    digits = np.empty((len(column), groups), dtype=np.int64)
    for g in range(groups - 1, -1, -1):
        digits[:, g] = magnitude % 10000
        magnitude = magnitude // 10000
    header = np.empty((len(column), 4), dtype=np.int64)
    header[:, 0], header[:, 1] = groups, 4
    header[:, 2] = np.where(unscaled < 0, 0x4000, 0)
    header[:, 3] = scale
    encoded = np.concatenate([header, digits], axis=1).astype(">i2").view(np.uint8).reshape(len(column), -1)
    return _fixed(encoded, None if valid.all() else valid)


def _payload(column: pa.Array, oid: int) -> pa.Array:
    if oid in (TEXT, VARCHAR):
        return column.cast(pa.string()).cast(pa.binary())
    if oid == JSONB:  # jsonb_recv: a version byte, then the JSON text, which Postgres parses and validates
        return pc.binary_join_element_wise(b"\x01", column.cast(pa.string()).cast(pa.binary()), b"")
    if oid == UUID:
        return _uuid(column)
    if oid == TIMESTAMPTZ:
        return _timestamptz(column)
    if oid == NUMERIC:
        return _numeric(column)
    raise TypeError(f"no binary COPY encoder for type oid {oid}")


def _cells(column: pa.Array, oid: int) -> pa.Array:
    """Each value as a whole COPY field: its int32 big-endian length (-1 for NULL), then its bytes."""
    payload = _payload(column, oid)
    lengths = pc.fill_null(pc.binary_length(payload), -1).to_numpy().astype(">i4")
    prefix = pa.FixedSizeBinaryArray.from_buffers(pa.binary(4), len(lengths), [None, pa.py_buffer(
        lengths.tobytes())]).cast(pa.binary())
    return pc.binary_join_element_wise(prefix, pc.fill_null(payload, b""), b"")


def constant_cell(value: str | None, oid: int) -> bytes:
    """One field's encoding, for a value shared by every row (the file's source and path, its organization)."""
    return _cells(pa.array([value], pa.string()), oid)[0].as_py()


def encode(table: pa.Table, oids: list[int], constants: list[bytes] = (), *, chunk_rows: int = 100_000
           ) -> Iterator[bytes]:
    """The binary COPY data (without HEADER and TRAILER) of `table`'s rows, `chunk_rows` at a time; each row's
    fields are the table's columns (types `oids`) followed by the pre-encoded `constants`."""
    count = (len(oids) + len(constants)).to_bytes(2, "big")
    for start in range(0, table.num_rows, chunk_rows):
        part = table.slice(start, chunk_rows)
        cells = [_cells(part.column(i).combine_chunks(), oid) for i, oid in enumerate(oids)]
        rows = pc.binary_join_element_wise(count, *cells, *constants, b"")
        offsets = np.frombuffer(rows.buffers()[1], np.int32, len(rows) + 1, rows.offset * 4)
        yield memoryview(rows.buffers()[2])[offsets[0]:offsets[-1]]
