"""Reading CSV files as people export them (comma, semicolon or tab; quoted; BOM; UTF-8 or Windows-1252).

One reader for `revorc leads evaluate` and the prospect import, so both accept the same files and say the
same thing about the ones they cannot read. Lives in `models` because `serving` imports `models`, never back.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
from charset_normalizer import from_bytes

DELIMITERS = ",;\t|"
# Named so a tab can be given on a command line or in a query string.
DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# csv.Sniffer's quote regex is quadratic in its sample (64 KB of ';"' takes 25 s, 8 KB 0.3 s); a few
# kilobytes of whole lines are plenty to tell the delimiter.
_SNIFF_CHARS = 8 * 1024


class CsvFileError(ValueError):
    """A file that cannot be read as CSV; `code` and `details` go into the API's error envelope."""

    def __init__(self, message: str, *, code: str = "INVALID_CSV", details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message, self.code, self.details = message, code, details or {}


@dataclass(frozen=True)
class CsvText:
    """Decoded text of a CSV file and the format it was read with (detected or given)."""

    text: str
    encoding: str
    delimiter: str

    def rows(self) -> Iterator[list[str]]:
        return csv.reader(io.StringIO(self.text, newline=""), dialect=self.dialect(), strict=True)

    def dialect(self) -> type[csv.Dialect]:
        # Only the delimiter is sniffed: the rest is RFC 4180 as spreadsheets write it. (The Sniffer turns
        # doublequote off whenever its sample happens to hold no "" escape, which breaks later rows.)
        return type("Detected", (csv.excel,), {"delimiter": self.delimiter})

    def describe(self) -> str:
        return f"delimiter {delimiter_label(self.delimiter)}, encoding {self.encoding}"


def delimiter_label(delimiter: str) -> str:
    return "tab" if delimiter == "\t" else repr(delimiter)


def decode(data: bytes, *, encoding: str | None = None) -> tuple[str, str]:
    """(text, encoding name). Given an encoding, use it strictly; otherwise a byte-order mark, then UTF-8,
    then Windows-1252 (a superset of Latin-1's printable characters), then charset-normalizer's best guess.

    UTF-8 is tried strictly before anything else, and a file that is UTF-8 but for a few bytes is refused
    rather than guessed, so UTF-8 input never turns into mojibake. Windows-1252 comes
    before charset-normalizer because on short Western-European exports charset-normalizer 3.x picks cp1250
    ("São Paulo" comes out as "Săo Paulo"); files with NUL bytes (UTF-16 without a BOM) skip it.
    """
    if encoding:
        try:
            name = codecs.lookup(encoding.strip()).name
        except (LookupError, ValueError):  # ValueError: a NUL in the name
            raise CsvFileError(f"unknown encoding {encoding!r}", code="INVALID_ENCODING",
                               details={"encoding": encoding}) from None
        if name == "utf-8":
            name = "utf-8-sig"  # a BOM is not part of the first column's name
        return _strict(data, name), encoding.strip()
    for bom, name in _BOMS:
        if data.startswith(bom):
            return _strict(data, name), name
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        # UTF-8 characters elsewhere in the file: a single-byte reading would turn them into mojibake ("Ã©")
        if any(c > "\x7f" and c != "\ufffd" for c in data.decode("utf-8", errors="replace")):
            raise CsvFileError(
                f"the file is UTF-8 text except at byte {exc.start}; fix that byte or give the encoding",
                code="INVALID_ENCODING", details={"encoding": "utf-8", "byteOffset": exc.start}) from None
    if b"\x00" not in data:
        try:
            return data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            pass
    best = from_bytes(data).best()
    if best is None:
        raise CsvFileError("could not tell the file's text encoding; give it explicitly (for example cp1252)",
                           code="INVALID_ENCODING")
    return str(best), best.encoding


def _strict(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise CsvFileError(
            f"the file is not valid {encoding} text (byte {exc.start}); give the right encoding, e.g. cp1252",
            code="INVALID_ENCODING", details={"encoding": encoding, "byteOffset": exc.start}) from None
    except (UnicodeError, LookupError) as exc:
        # codecs that are not text encodings (base64, rot13, zlib) or fail without a position (undefined)
        raise CsvFileError(f"cannot read the file as {encoding}: {exc}", code="INVALID_ENCODING",
                           details={"encoding": encoding}) from None


def sniff_delimiter(text: str, *, delimiter: str | None = None) -> str:
    """The given delimiter (one ASCII punctuation character, or tab/comma/semicolon/pipe), else csv.Sniffer's pick among
    comma, semicolon, tab and pipe; a file it cannot decide on (one column) is comma-separated."""
    if delimiter is not None:
        chosen = DELIMITER_NAMES.get(delimiter.lower(), delimiter)
        # ASCII punctuation, space or tab: pandas' C parser takes single bytes only, and a letter, digit or
        # quote would split the text itself
        usable = chosen == "\t" or (len(chosen) == 1 and chosen.isascii() and chosen.isprintable()
                                     and not chosen.isalnum() and chosen != '"')
        if not usable:
            raise CsvFileError(f"invalid delimiter {delimiter!r}: give one punctuation character, or tab",
                               code="INVALID_DELIMITER", details={"delimiter": delimiter})
        return chosen
    sample = text[:_SNIFF_CHARS]
    if len(text) > _SNIFF_CHARS and "\n" in sample:
        sample = sample[:sample.rindex("\n")]  # whole lines only
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


def read_text(data: bytes, *, delimiter: str | None = None, encoding: str | None = None) -> CsvText:
    """Decode the bytes and settle the delimiter; overrides win over detection."""
    text, used = decode(data, encoding=encoding)
    text = text.removeprefix("\ufeff")
    return CsvText(text=text, encoding=used, delimiter=sniff_delimiter(text, delimiter=delimiter))


def read_frame(data: bytes, *, delimiter: str | None = None, encoding: str | None = None) -> pd.DataFrame:
    """A DataFrame of the file. Outside comma files a number may have a decimal comma ("1,5"): such a
    column is numeric when all of it parses that way and none of it parses with a decimal point."""
    source = read_text(data, delimiter=delimiter, encoding=encoding)
    try:
        frame = _pandas(source, decimal=".")
        if source.delimiter != ",":
            commas = _pandas(source, decimal=",")
            for column in frame.columns:
                if not pd.api.types.is_numeric_dtype(frame[column]) and pd.api.types.is_float_dtype(commas[column]):
                    frame[column] = commas[column]
    except (pd.errors.ParserError, csv.Error) as exc:
        raise CsvFileError(f"the file is not valid CSV ({source.describe()}): {exc}") from None
    except pd.errors.EmptyDataError:
        raise CsvFileError("the file is empty") from None
    frame.attrs["csv"] = source.describe()
    return frame


def _pandas(source: CsvText, *, decimal: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(source.text), sep=source.delimiter, decimal=decimal, quotechar='"',
                       doublequote=True, low_memory=False)


def missing_column_message(what: str, *, found: Iterable[str], source: str | None = None,
                           read_as: str | None = None) -> str:
    """"{what} is not in {source}; columns found: 'a', 'b' (read with ...)"."""
    return f"{what} is not in {source}; {columns_found(found, read_as=read_as)}"


def columns_found(found: Iterable[str], *, read_as: str | None = None) -> str:
    """"columns found: 'a', 'b' (read with delimiter ';', encoding cp1252)": shows a wrong delimiter or
    encoding at a glance (one column named after the whole header line, or mangled accents)."""
    columns = ", ".join(repr(str(c)) for c in found) or "none"
    return f"columns found: {columns}" + (f" (read with {read_as})" if read_as else "")
