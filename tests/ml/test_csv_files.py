"""The shared CSV reader on the files spreadsheets write: delimiter and encoding detection, overrides, and
the cases where the stdlib Sniffer or charset-normalizer alone would go wrong."""

from __future__ import annotations

import codecs
import time

import pytest

from models.csv_files import CsvFileError, decode, missing_column_message, read_frame, read_text

WESTERN = "nome;cidade;nota\nJoão;São Paulo;l’été à 5 €\nRenée;Besançon;«oui»\nMüller;Köln;Groß\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "utf-16"])
def test_western_european_text_decodes_exactly(encoding) -> None:
    # charset-normalizer 3.x alone calls these cp1252 bytes cp1250 and returns "Săo Paulo"
    text, used = decode(WESTERN.encode(encoding))
    assert text.removeprefix("\ufeff") == WESTERN
    assert used == {"utf-8": "utf-8", "utf-8-sig": "utf-8-sig", "cp1252": "cp1252", "utf-16": "utf-16"}[encoding]


def test_utf8_is_never_read_as_a_single_byte_encoding() -> None:
    # every byte of UTF-8 "é" is a valid cp1252 character too ("Ã©"): UTF-8 must win
    assert decode("email\nrené@example.com\n".encode())[0] == "email\nrené@example.com\n"


def test_utf8_with_a_stray_byte_is_refused_not_guessed() -> None:
    data = "email,city\na@example.com,Zürich\n".encode() + b"b@example.com,K\xf6ln\n"
    with pytest.raises(CsvFileError, match="UTF-8 text except at byte 48") as caught:
        read_text(data)
    assert caught.value.code == "INVALID_ENCODING" and caught.value.details["byteOffset"] == 48
    # an explicit encoding is taken at its word
    assert read_text(data, encoding="cp1252").text.splitlines()[1:] == ["a@example.com,ZÃ¼rich",
                                                                        "b@example.com,Köln"]


def test_latin1_is_read() -> None:
    text = "nombre,ciudad\nNúñez,Logroño\n"
    assert read_text(text.encode("latin-1")).text == text


def test_explicit_encoding_is_strict() -> None:
    with pytest.raises(CsvFileError, match="not valid utf-8") as caught:
        read_text(WESTERN.encode("cp1252"), encoding="utf-8")
    assert caught.value.code == "INVALID_ENCODING" and caught.value.details["byteOffset"] > 0
    with pytest.raises(CsvFileError, match="unknown encoding"):
        read_text(b"a\n1\n", encoding="no-such-codec")
    for codec in ("rot13", "hex", "zlib", "undefined", "punycode", "utf-8\x00"):
        with pytest.raises(CsvFileError) as caught:
            read_text(b"email\n\xff@example.com\n", encoding=codec)
        assert caught.value.code == "INVALID_ENCODING", codec
    assert read_text(codecs.BOM_UTF8 + b"a;b\n1;2\n", encoding="UTF-8").text == "a;b\n1;2\n"


@pytest.mark.parametrize(("text", "delimiter"), [
    ("a;b;y\n1,5;2,25;1\n3,0;4,5;0\n", ";"),                       # decimal commas in a semicolon file
    ('"a";"b"\n"x; y";"line\nbreak"\n"z";"w"\n', ";"),             # quoted delimiter and newline
    ('a,b\n"x; y","1;2"\n"z; w","3;4"\n', ","),                    # semicolons inside quoted comma fields
    ("a\tb\n1,5\tx, y\n2\tz\n", "\t"),
    ("email;first_name;y\n", ";"),                                 # header only
    ("email,first_name\n", ","),
    ("email\na@example.com\nb@example.com\n", ","),                # one column: nothing to sniff
])
def test_delimiter_detection(text, delimiter) -> None:
    assert read_text(text.encode()).delimiter == delimiter


def test_delimiter_override_and_names() -> None:
    assert read_text(b"a|b\n1|2\n", delimiter="|").delimiter == "|"
    assert read_text(b"a b\n1 2\n", delimiter="tab").delimiter == "\t"
    assert read_text(b"a b\n1 2\n", delimiter="\\t").delimiter == "\t"
    for bad in ("", ";;", '"', "\n", "a", "1", "é", "€", "\x00", "\ud800"):
        with pytest.raises(CsvFileError) as caught:
            read_text(b"a\n1\n", delimiter=bad)
        assert caught.value.code == "INVALID_DELIMITER"


def test_doubled_quotes_after_the_sniffed_sample_still_parse() -> None:
    # csv.Sniffer's dialect has doublequote=False when its sample holds no "" escape; only its delimiter is used
    text = "a;b\n" + "x;y\n" * 20_000 + '"say ""hi""; bye";z\n'
    rows = list(read_text(text.encode()).rows())
    assert rows[-1] == ['say "hi"; bye', "z"] and len(rows) == 20_002


def test_frame_reads_decimal_commas_only_where_a_whole_column_has_them() -> None:
    text = 'id;amount;ratio;code;label\n1;"1,5";0.25;1,2;a\n2;"2 500,25";0.5;3,4;b\n3;3;1.0;x;c\n'
    frame = read_frame(text.encode("cp1252"))
    assert frame["amount"].tolist() == ["1,5", "2 500,25", "3"]  # a space thousands separator: left as text
    assert frame["ratio"].tolist() == [0.25, 0.5, 1.0]
    assert frame["code"].tolist() == ["1,2", "3,4", "x"]
    frame = read_frame(b"a;b\n1,5;2\n-0,25;3\n")
    assert frame["a"].tolist() == [1.5, -0.25] and frame["b"].tolist() == [2, 3]
    # in a comma file a quoted "1,000" is a thousands separator or text, never 1.0
    assert read_frame(b'a,b\n"1,000",x\n"2,000",y\n')["a"].tolist() == ["1,000", "2,000"]
    assert read_frame(b"email;y\n").columns.tolist() == ["email", "y"]
    with pytest.raises(CsvFileError, match="empty"):
        read_frame(b"")


def test_missing_column_message_lists_what_was_found() -> None:
    assert missing_column_message("target column 'y'", found=["a;b;y"], source="x.csv",
                                  read_as="delimiter ',', encoding utf-8") == (
        "target column 'y' is not in x.csv; columns found: 'a;b;y' (read with delimiter ',', encoding utf-8)")


def test_sniffing_a_hostile_file_stays_fast() -> None:
    # csv.Sniffer's quote regex is quadratic: on a 64 KB sample of this it ran for 25 seconds
    started = time.perf_counter()
    assert read_text((';"' * 100_000).encode()).delimiter == ";"
    assert time.perf_counter() - started < 5
