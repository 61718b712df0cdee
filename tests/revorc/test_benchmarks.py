"""The benchmark scripts stay runnable: `revorc bench NAME` finds each one with the shared signature, and the
shared table helpers compute what the README shows. (Figures are printed by the scripts, never asserted here.)"""

from __future__ import annotations

import importlib
import inspect
import json
from datetime import date

import pytest

from benchmarks.bench_search import SUFFIX, TYPES, VOCABULARIES, _multi_search_body
from benchmarks.common import Row, markdown, percentile
from revorc.data_cli import BENCHMARKS
from serving.search.collections import ENTITIES
from serving.search.engine import SearchIndex
from serving.search.intent import understand


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_each_benchmark_has_the_shared_entry_point(name):
    module = importlib.import_module(f"benchmarks.bench_{name}")
    parameters = inspect.signature(module.run).parameters
    assert {"prospects", "seed", "console"} <= set(parameters)
    assert all(parameters[p].kind is inspect.Parameter.KEYWORD_ONLY for p in ("prospects", "seed", "console"))
    assert callable(getattr(module, "main", None)), "each benchmark is also a script (python -m benchmarks.…)"


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 95) == 0.0


def test_markdown_table_shows_ratio_and_verdict():
    text = markdown([Row(what="api", measured="1,900 req/s", baseline="2,000 req/s", target="≥ 0.80",
                         ratio=0.95, met=True),
                     Row(what="bulk", measured="25 s", baseline="—", target="≤ 30 s")])
    lines = text.splitlines()
    assert lines[2] == "| api | 1,900 req/s | 2,000 req/s | 0.95 | ≥ 0.80 | yes |"
    assert lines[3] == "| bulk | 25 s | — | — | ≤ 30 s | — |"


def test_search_benchmark_sends_typesense_the_search_the_api_would():
    # the queries are plain text: no period, tier, stage or amount for query understanding to turn into filters,
    # so the direct baseline and the API search the same three collections for the same words
    for name, vocabulary in VOCABULARIES.items():
        queries = vocabulary().queries
        assert len(queries) == len(set(queries)) == 50, name
        for query in queries:
            understood = understand(query, types=TYPES, today=date.today())
            assert (understood.text, understood.types, any(understood.filters.values())) == (query, TYPES, False), \
                (name, query)
    index = SearchIndex(url="http://127.0.0.1:9", admin_key="unused")
    # …except the industry an account carries: the API filters on it (two words or more), and so does the baseline
    labs = json.loads(_multi_search_body(index, "globex labs", SUFFIX))["searches"]
    assert {s["collection"]: s["filter_by"] for s in labs}["revorc_accounts"] == "industry:=`Labs`"
    assert {s["q"] for s in labs} == {"globex"}
    plain = json.loads(_multi_search_body(index, "labs", SUFFIX))["searches"]
    assert [s["collection"] for s in plain] == ["revorc_prospects", "revorc_accounts", "revorc_deals"]
    assert {s["filter_by"] for s in plain} == {""} and {s["q"] for s in plain} == {"labs"}
    # no facet counted unless asked, as the API; `*` every facet of each type
    assert not any("facet_by" in s for s in plain)
    counted = json.loads(_multi_search_body(index, "labs", SUFFIX, "*"))["searches"]
    assert [s["facet_by"] for s in counted] == [",".join(ENTITIES[t].facets) for t in TYPES]
