"""`revorc leads evaluate` on a subsample of the X Education export: metrics printed, best model saved;
`revorc leads train` wiring (the `ml` group, headless)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from revorc import ml_cli
from serving.core.config import get_settings

X_EDUCATION = Path(__file__).resolve().parents[2] / "datasets" / "x_education_leads" / "Leads.csv"


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
    monkeypatch.setattr(ml_cli, "console", Console(width=200))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_evaluate_prints_metrics_and_saves_the_best_model(tmp_path):
    result = CliRunner().invoke(_app(), [
        "leads", "evaluate", "--csv", str(X_EDUCATION), "--target", "Converted", "--id", "Prospect ID",
        "--exclude", "Lead Number", "--max-rows", "1500", "--folds", "3"])
    assert result.exit_code == 0, result.output
    out = result.output
    for text in ("ROC-AUC", "PR-AUC", "Brier", "top-decile lift", "logistic_regression", "hist_gradient_boosting",
                 "Tags", "Lead Quality", "Saved", "(champion)"):
        assert text in out, text
    registry = tmp_path.resolve() / "models" / "byoh" / "Leads"
    index = json.loads((registry / "index.json").read_text())
    assert index["champion"] == "v1" and (registry / "v1" / "model.skops").exists()
    card = json.loads((registry / "v1" / "model_card.json").read_text())
    assert card["evaluation"] == "cross_validation" and card["metrics"]["roc_auc"] > 0.75


def test_evaluate_reports_a_bad_target_cleanly():
    result = CliRunner().invoke(_app(), ["leads", "evaluate", "--csv", str(X_EDUCATION), "--target", "Nope",
                                         "--max-rows", "200"])
    assert result.exit_code == 1


def test_train_runs_the_ml_group(monkeypatch):
    calls = {}

    class Result:
        success = True
        all_events: list = []

        def get_asset_materialization_events(self):
            return []

        def get_asset_check_evaluations(self):
            return []

    def fake_training(**kwargs):
        calls.update(kwargs)
        return Result()

    monkeypatch.setattr(ml_cli, "run_training", fake_training)
    result = CliRunner().invoke(_app(), ["leads", "train", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert calls == {"seed": 3, "embargo_days": None}
