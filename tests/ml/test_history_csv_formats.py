"""`revorc leads evaluate` on history files as spreadsheets export them: semicolons and decimal commas,
quoted fields, a UTF-8 BOM, Windows-1252 text, tabs; overrides; the missing-column message."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from models.lead_scoring.byoh import evaluate_csv, read_history
from revorc import ml_cli
from serving.core.config import get_settings
from tests.ml.bank_history import make_bank_history


def _history(rows: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, size=rows)
    return pd.DataFrame({
        "Société": rng.choice(["Café Müller", "L’Oréal; Paris", "Señor Ñandú"], size=rows),
        "Umsatz €": np.round(rng.normal(10 + 5 * y, 3), 2),
        "Notiz": np.where(rng.random(rows) < 0.1, "line one\nline two; \"quoted\"", "ok"),
        "y": np.where(y == 1, "ja", "nein"),
    }).assign(y=lambda f: (f["y"] == "ja").astype(int))


def _write(frame: pd.DataFrame, path: Path, *, sep: str, encoding: str, decimal: str = ".") -> Path:
    frame.to_csv(path, sep=sep, decimal=decimal, encoding=encoding, index=False, quoting=csv.QUOTE_ALL)
    return path


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """revorc (test harness)."""

    ml_cli.register(app)
    return app


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("REVORC_HOME", str(tmp_path))
    monkeypatch.setattr(ml_cli, "console", Console(width=300))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize(("sep", "encoding", "decimal"), [
    (";", "utf-8-sig", ","),   # European Excel "CSV UTF-8": BOM, semicolons, decimal commas
    (";", "cp1252", ","),      # European Excel "CSV (semicolon)": Windows-1252
    ("\t", "utf-8", "."),      # "Text (tab delimited)"
    (",", "latin-1", "."),
])
def test_history_reads_the_same_from_every_export(tmp_path: Path, sep, encoding, decimal) -> None:
    frame = _history(60)
    if encoding == "latin-1":  # Latin-1 has no € or ’
        frame = frame.rename(columns={"Umsatz €": "Umsatz"}).replace({"L’Oréal; Paris": "L'Oréal; Paris"})
    read = read_history(_write(frame, tmp_path / "history.csv", sep=sep, encoding=encoding, decimal=decimal))
    assert list(read.columns) == list(frame.columns)
    amount = next(c for c in frame.columns if c.startswith("Umsatz"))
    assert pd.api.types.is_float_dtype(read[amount]) and np.allclose(read[amount], frame[amount])
    assert read["Société"].tolist() == frame["Société"].tolist()
    # whitespace in text is normalised by read_history; the quoted newline and delimiter stay one cell
    assert read["Notiz"].tolist() == frame["Notiz"].str.replace("\n", " ").tolist()


def test_cli_evaluates_a_semicolon_cp1252_export(tmp_path: Path) -> None:
    path = _write(_history(), tmp_path / "export.csv", sep=";", encoding="cp1252", decimal=",")
    result = CliRunner().invoke(_app(), ["leads", "evaluate", "--csv", str(path), "--target", "y",
                                         "--folds", "3", "--families", "logistic_regression"])
    assert result.exit_code == 0, result.output
    assert "300 rows, target 'y'" in result.output and "Saved" in result.output


def test_cli_overrides_delimiter_and_encoding(tmp_path: Path) -> None:
    # Pipe-delimited and a single non-ASCII byte: the overrides are what makes this file readable.
    path = _write(_history(), tmp_path / "pipes.csv", sep="|", encoding="cp1252")
    args = ["leads", "evaluate", "--csv", str(path), "--target", "y", "--folds", "3",
            "--families", "logistic_regression"]
    result = CliRunner().invoke(_app(), [*args, "--delimiter", "|", "--encoding", "cp1252"])
    assert result.exit_code == 0, result.output
    assert "300 rows" in result.output

    wrong = CliRunner().invoke(_app(), [*args, "--encoding", "utf-8"])
    assert wrong.exit_code == 1 and isinstance(wrong.exception, SystemExit)
    assert "not valid utf-8" in wrong.output.lower() and "Traceback" not in wrong.output


def test_cli_missing_target_lists_the_columns_found(tmp_path: Path) -> None:
    path = _write(_history(50), tmp_path / "export.csv", sep=";", encoding="utf-8-sig", decimal=",")
    result = CliRunner().invoke(_app(), ["leads", "evaluate", "--csv", str(path), "--target", "Converted"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    out = " ".join(result.output.split())
    assert "target column 'Converted' is not in export.csv" in out
    assert "columns found: 'Société', 'Umsatz €', 'Notiz', 'y'" in out
    assert "Traceback" not in result.output


def test_evaluate_csv_error_names_the_columns_found(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    path.write_text("email\na@example.com\n")
    with pytest.raises(ValueError, match=r"target column 'y' is not in one.csv; columns found: 'email'"):
        evaluate_csv(path, target="y")


@pytest.mark.parametrize("body", ["email;y\n", "email;y\na@example.com;1\nb@example.com;1\n"])
def test_a_history_without_both_outcomes_is_a_clear_error(tmp_path: Path, body: str) -> None:
    path = tmp_path / "few.csv"
    path.write_text(body)
    result = CliRunner().invoke(_app(), ["leads", "evaluate", "--csv", str(path), "--target", "y"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "5-fold cross-validation needs at least 5 of each" in " ".join(result.output.split())


def test_the_issue_file_exported_the_european_way_evaluates_the_same(tmp_path: Path) -> None:
    # issue 10: the telemarketing history saved by a European spreadsheet ("target column 'y' is not in …")
    history = make_bank_history(2_000, seed=0)
    comma = _write(history, tmp_path / "comma.csv", sep=",", encoding="utf-8")
    european = _write(history, tmp_path / "european.csv", sep=";", encoding="utf-8-sig", decimal=",")
    pd.testing.assert_frame_equal(read_history(european), read_history(comma))
    reports = [evaluate_csv(path, target="y", exclude=["duration"], cv_folds=3, families=["logistic_regression"])
               for path in (comma, european)]
    assert reports[0].rows == reports[1].rows == 2_000
    assert reports[0].features == reports[1].features
    assert reports[0].candidates["logistic_regression"]["roc_auc"] == \
        reports[1].candidates["logistic_regression"]["roc_auc"]
