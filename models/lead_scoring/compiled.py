"""A fitted lead-scoring estimator compiled into numpy: the same probabilities, bit for bit, without the
pandas and scikit-learn fixed cost per call.

Why: on one row (a real-time request) nearly all of `predict_proba` is fixed cost — ColumnTransformer
dispatch, DataFrame indexing, feature-name and input validation, one Python call per boosted tree — tens of
ms where the arithmetic is a few µs. The fitted steps are read once at load time:

- preprocessing works column by column: a categorical value becomes a code into a per-column table of its
  transformed block (computed by the fitted encoder itself on every known category, missing and an unseen
  value); numeric columns go through the imputer's statistics and indicator and the scaler's mean and scale,
  the same elementwise float operations scikit-learn performs;
- the final estimator is a logistic regression (the same `X @ coef.T + intercept` product on the same
  matrix) or histogram gradient boosting (all trees walked at once in numpy, leaves summed tree by tree in
  scikit-learn's order);
- the Platt sigmoid is the calibrator's own formula.

`compile_model` verifies the compiled model against the estimator on a probe sample (every category,
missing and unseen values, random numbers, one row and many) and returns None on any difference, so a model
of another shape or a scikit-learn that computes differently keeps the scikit-learn path.

Inputs are "encoded" matrices: one float row per prospect in spec column order, categorical columns holding
their code. Encoding is column by column, so substituting columns between encoded rows (explanations) is the
same as substituting the raw values.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler

from models.lead_scoring.features import FeatureSpec, prepare_frame

_UNSEEN = "\x00unseen category\x00"  # a value no encoder was fitted on
_PROBE_ROWS = 400
_FEW_ROWS = 16  # up to this many rows, categories are looked up one by one rather than through pd.factorize
_WALK_CELLS = 25_000  # trees × rows up to which the numpy walk is faster than per-tree Cython calls


class NotCompilable(ValueError):
    """The fitted estimator has a shape this module does not compile (scikit-learn serves it as before)."""


@dataclass(frozen=True)
class _Categorical:
    position: int  # in spec columns
    codes: dict[Any, int]  # value → row of `table`
    missing: int  # code of a missing value
    unseen: int  # code of a value the encoder never saw


@dataclass(frozen=True)
class _NumericBlock:
    positions: np.ndarray  # spec positions of the block's input columns
    fill: np.ndarray | None  # imputer statistics (None: passthrough)
    indicator: np.ndarray | None  # block-local columns whose missingness is appended as 0/1
    mean: np.ndarray | None
    scale: np.ndarray | None


@dataclass(frozen=True)
class _CategoricalBlock:
    columns: tuple[_Categorical, ...]
    tables: tuple[np.ndarray, ...]  # per column: code → transformed block (rows × width)


@dataclass(frozen=True)
class _Trees:
    feature: np.ndarray
    threshold: np.ndarray
    missing_left: np.ndarray
    child: np.ndarray  # node → (right, left): child[2 * node + go_left]
    categorical: np.ndarray
    bitset: np.ndarray  # global row of `raw_bitsets` for categorical nodes
    value: np.ndarray
    roots: np.ndarray
    depth: int
    raw_bitsets: np.ndarray  # (splits, 8) uint32
    known_bitsets: np.ndarray  # (categorical features, 8) uint32
    known_row: np.ndarray  # feature → row of `known_bitsets`
    baseline: float


@dataclass(frozen=True)
class CompiledModel:
    """The calibrated estimator as numpy arrays; see the module docstring."""

    columns: tuple[str, ...]
    blocks: tuple[_NumericBlock | _CategoricalBlock, ...]  # in the ColumnTransformer's output order
    categorical: tuple[_Categorical, ...]
    numeric_positions: np.ndarray
    coef: np.ndarray | None  # logistic regression: coef_.T (n_out × 1, as scikit-learn multiplies it)
    intercept: np.ndarray | None
    trees: _Trees | None
    predictors: _Predictors | None
    order: np.ndarray | None  # gradient boosting's own column order (its categorical columns first)
    a: Any  # Platt calibrator: expit(-(a * z + b))
    b: Any

    # ---------------------------------------------------------------------------------------------
    def encode(self, prepared: pd.DataFrame | dict[str, np.ndarray]) -> np.ndarray:
        """Prepared values (a frame from `prepare_frame`, or its columns as arrays: numbers as float64,
        categories as text with NaN for missing) → the encoded matrix (n × columns)."""
        rows = len(prepared[self.columns[0]])
        encoded = np.empty((rows, len(self.columns)))
        for position in self.numeric_positions:
            encoded[:, position] = np.asarray(prepared[self.columns[position]], dtype="float64")
        for column in self.categorical:
            raw = np.asarray(prepared[self.columns[column.position]], dtype=object)
            if rows <= _FEW_ROWS:  # a real-time pass: pd.factorize's fixed cost is ~30 µs a column
                encoded[:, column.position] = [column.missing if pd.isna(v) else column.codes.get(v, column.unseen)
                                               for v in raw]
                continue
            values, uniques = pd.factorize(raw, use_na_sentinel=True)
            table = np.array([column.codes.get(u, column.unseen) for u in uniques] + [column.missing],
                             dtype="float64")
            encoded[:, column.position] = table[values]
        return encoded

    def finite(self, encoded: np.ndarray) -> bool:
        """Whether scikit-learn would accept these numbers (it refuses infinities; missing values are fine)."""
        return not np.isinf(encoded[:, self.numeric_positions]).any()

    # ---------------------------------------------------------------------------------------------
    def transform(self, encoded: np.ndarray) -> np.ndarray:
        """The preprocessing's output matrix (what the final estimator sees), C-ordered float64."""
        parts = []
        for block in self.blocks:
            if isinstance(block, _NumericBlock):
                raw = encoded[:, block.positions]
                missing = np.isnan(raw)
                values = np.where(missing, block.fill, raw) if block.fill is not None else raw.copy()
                if block.indicator is not None:
                    values = np.hstack([values, missing[:, block.indicator]])
                if block.mean is not None:
                    values -= block.mean
                if block.scale is not None:
                    values /= block.scale
                parts.append(values)
            else:
                for column, table in zip(block.columns, block.tables, strict=True):
                    parts.append(table[encoded[:, column.position].astype(np.intp)])
        out = np.hstack(parts)
        return np.ascontiguousarray(out if self.order is None else out[:, self.order], dtype="float64")

    def decision(self, encoded: np.ndarray, *, row_by_row: bool = False) -> np.ndarray:
        """The uncalibrated pipeline's `decision_function`. A linear model multiplies the whole matrix at once
        (as scikit-learn does on a frame of those rows) or, with `row_by_row`, one row at a time (as it does
        on each row alone: BLAS may round the last bit of a many-row product differently)."""
        transformed = self.transform(encoded)
        if self.trees is not None:
            # Walking every tree at once in numpy beats one Cython call per tree (~5 µs each) on a few rows
            # (one explained row stacks ~90); from ~25,000 (trees × rows) cells on, scikit-learn's own
            # per-tree predictor is faster. Both sum the trees in the same order: the same values either way.
            if len(self.trees.roots) * len(transformed) <= _WALK_CELLS:
                return _walk(self.trees, transformed)
            return _predict_per_tree(self.predictors, transformed)
        if row_by_row:
            z = np.concatenate([transformed[i:i + 1] @ self.coef + self.intercept
                                for i in range(len(transformed))])
        else:
            z = transformed @ self.coef + self.intercept
        return z.reshape(-1)

    def probability(self, encoded: np.ndarray, *, row_by_row: bool = False) -> np.ndarray:
        """The calibrated probability of the positive class: `estimator.predict_proba(rows)[:, 1]`."""
        return self._calibrated(self.decision(encoded, row_by_row=row_by_row))

    def substituted_probability(self, rows: np.ndarray, reference: np.ndarray, take: np.ndarray) -> np.ndarray:
        """`probability` of len(take) stacked copies of the encoded `reference` row, copy s taking encoded column
        c from the `rows` where take[s, c] (copy-major: row i of copy s is at s * len(rows) + i), the stack an
        explanation substitutes.

        Gradient boosting walks the stack without building or transforming it: a copy's value at a split is the
        row's or the reference's, so every split's decision is computed once for each row and once for the
        reference, and the walk only picks one of the two where they differ — the same leaves as walking the
        built stack (tested bit for bit), at a fraction of its gathers and comparisons."""
        n = len(rows)
        trees = self.trees
        if trees is None or len(trees.roots) * n * len(take) > _WALK_CELLS:
            return self.probability(np.where(np.repeat(take, n, axis=0), np.tile(rows, (len(take), 1)), reference))
        transformed, reference_transformed = self.transform(rows), self.transform(reference)
        columns = transformed.shape[1]
        from_row = np.ascontiguousarray(take[:, self._transformed_sources()]).ravel()  # copy × transformed column
        every = np.arange(len(trees.feature))
        size = len(every)
        row_left = _go_left(trees, np.tile(every, n), transformed[:, trees.feature].ravel())  # row × node, flat
        reference_left = _go_left(trees, every, reference_transformed[0, trees.feature])
        # Where a row and the reference take the same way, every copy takes it: such splits are skipped with a
        # pointer to the first split below where they part (or the leaf), resolved by pointer doubling. Most
        # (tree, copy) cells then start at their leaf, and the rest descend only through the splits that differ.
        leaf = trees.child[2 * every] == every
        offset = np.repeat(np.arange(n) * size, size)  # flat index of node 0 of each row
        own = np.tile(every, n)
        forced = (row_left == np.tile(reference_left, n)) & ~np.tile(leaf, n)
        jump = offset + np.where(forced, trees.child[2 * own + row_left], own)
        while True:
            further = jump[jump]
            if np.array_equal(further, jump):
                break
            jump = further
        cells = n * len(take)
        copy, row = np.divmod(np.tile(np.arange(cells), len(trees.roots)), n)
        at = jump[row * size + np.repeat(trees.roots, cells)]  # flat (row, node)
        active = np.flatnonzero(~leaf[at % size])
        while len(active):
            flat = at[active]
            node = flat % size
            go_left = np.where(from_row[copy[active] * columns + trees.feature[node]], row_left[flat],
                               reference_left[node])
            at[active] = jump[flat - node + trees.child[2 * node + go_left]]
            active = active[~leaf[at[active] % size]]
        leaves = trees.value[at % size].reshape(len(trees.roots), cells)
        return self._calibrated(_summed(trees, leaves))

    def _transformed_sources(self) -> np.ndarray:
        """The encoded column each column of `transform`'s output is computed from (it works column by column)."""
        sources: list[int] = []
        for block in self.blocks:
            if isinstance(block, _NumericBlock):
                sources.extend(block.positions.tolist())
                if block.indicator is not None:
                    sources.extend(block.positions[block.indicator].tolist())
            else:
                for column, table in zip(block.columns, block.tables, strict=True):
                    sources.extend([column.position] * table.shape[1])
        out = np.asarray(sources, dtype=np.intp)
        return out if self.order is None else out[self.order]

    def _calibrated(self, z: np.ndarray) -> np.ndarray:
        proba = expit(-(self.a * z + self.b))
        proba = np.zeros(len(proba)) + proba  # the calibration wrapper's mean over one calibrated model
        proba /= 1
        proba[(proba > 1.0) & (proba <= 1.0 + 1e-5)] = 1.0
        return proba


@dataclass(frozen=True)
class _Predictors:
    """Gradient boosting's own fitted per-tree predictors, for batches larger than the numpy walk suits."""

    trees: tuple[Any, ...]
    known_bitsets: np.ndarray
    known_row: np.ndarray
    baseline: np.ndarray  # 1 × 1, as the model keeps it


def _predict_per_tree(predictors: _Predictors, X: np.ndarray) -> np.ndarray:
    """What `HistGradientBoostingClassifier._raw_predict` computes after its input validation: the baseline
    plus each tree's raw prediction, in order, on one thread (every row is computed alone, whatever the
    thread count)."""
    raw = np.zeros((len(X), 1), order="F")
    raw += predictors.baseline
    for tree in predictors.trees:
        raw[:, 0] += tree.predict(X, predictors.known_bitsets, predictors.known_row, 1)
    return raw.ravel()


def _walk(trees: _Trees, X: np.ndarray) -> np.ndarray:
    """Raw prediction of every tree for every row, summed in scikit-learn's order (baseline, then tree by
    tree): the same comparisons as its predictor (missing values, categorical bitsets, unknown categories
    treated as missing). Every (tree, row) cell descends one level per step, on flat arrays."""
    n = len(X)
    columns = np.ascontiguousarray(X.T).ravel()  # feature-major, so a cell's value is one flat gather
    node = np.repeat(trees.roots, n)
    row = np.tile(np.arange(n), len(trees.roots))
    for _ in range(trees.depth):
        value = columns[trees.feature[node] * n + row]
        node = trees.child[2 * node + _go_left(trees, node, value)]
    return _summed(trees, trees.value[node].reshape(len(trees.roots), n))


def _go_left(trees: _Trees, node: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Whether each (node, value) pair goes left: scikit-learn's predictor's comparisons (missing values,
    categorical bitsets, unknown categories treated as missing)."""
    nan = np.isnan(value)
    go_left = (value <= trees.threshold[node]) | (nan & trees.missing_left[node])
    categorical = np.flatnonzero(trees.categorical[node])
    if len(categorical):
        at, code = node[categorical], value[categorical]
        missing_left = trees.missing_left[at]
        valid = ~nan[categorical] & (code >= 0)
        code = np.where(valid, code, 0).astype(np.int64) & 0xFF  # the predictor casts to uint8
        word, bit = code >> 5, (code & 31).astype(np.uint32)
        in_left = ((trees.raw_bitsets[trees.bitset[at], word] >> bit) & 1).astype(bool)
        known = ((trees.known_bitsets[trees.known_row[trees.feature[at]], word] >> bit) & 1).astype(bool)
        go_left[categorical] = np.where(valid, in_left | (~known & missing_left), missing_left)
    return go_left


def _summed(trees: _Trees, leaves: np.ndarray) -> np.ndarray:
    """The baseline plus every tree's leaf (trees × rows), summed tree by tree as `raw_predictions += tree` is."""
    total = np.vstack([np.full((1, leaves.shape[1]), trees.baseline), leaves])
    return np.add.accumulate(total, axis=0)[-1]


# -------------------------------------------------------------------------------------------------
# compiling

def _calibrated_pipeline(estimator: Any) -> tuple[Pipeline, Any]:
    if not isinstance(estimator, CalibratedClassifierCV) or len(estimator.calibrated_classifiers_) != 1 \
            or len(estimator.classes_) != 2:
        raise NotCompilable("not a binary classifier with one calibrated model")
    calibrated = estimator.calibrated_classifiers_[0]
    if calibrated.method != "sigmoid" or len(calibrated.calibrators) != 1:
        raise NotCompilable("not sigmoid-calibrated")
    inner = calibrated.estimator
    inner = inner.estimator if isinstance(inner, FrozenEstimator) else inner
    if not isinstance(inner, Pipeline) or len(inner.steps) != 2 or not isinstance(inner[0], ColumnTransformer):
        raise NotCompilable("not a ColumnTransformer + classifier pipeline")
    if list(inner.classes_) != list(estimator.classes_):
        raise NotCompilable("class order differs")
    return inner, calibrated.calibrators[0]


def _numeric_block(transformer: Any, positions: np.ndarray) -> _NumericBlock:
    steps = transformer.steps if isinstance(transformer, Pipeline) else [(None, transformer)]
    fill = indicator = mean = scale = None
    for _, step in steps:
        if isinstance(step, FunctionTransformer) and step.func is None and fill is None and mean is None:
            continue
        if isinstance(step, SimpleImputer) and fill is None and mean is None and scale is None:
            if not (isinstance(step.missing_values, float) and np.isnan(step.missing_values)):
                raise NotCompilable("imputer of values other than NaN")
            fill = np.asarray(step.statistics_, dtype="float64")
            if np.isnan(fill).any():
                raise NotCompilable("imputer without a statistic for a column")
            if step.indicator_ is not None:
                indicator = np.asarray(step.indicator_.features_, dtype=np.intp)
            continue
        if isinstance(step, StandardScaler) and mean is None and scale is None:
            mean = np.asarray(step.mean_, dtype="float64") if step.with_mean else None
            scale = np.asarray(step.scale_, dtype="float64") if step.with_std else None
            continue
        raise NotCompilable(f"numeric step {type(step).__name__}")
    return _NumericBlock(positions=positions, fill=fill, indicator=indicator, mean=mean, scale=scale)


def _categorical_block(transformer: Any, names: list[str], positions: np.ndarray) -> _CategoricalBlock:
    steps = [s for _, s in transformer.steps] if isinstance(transformer, Pipeline) else [transformer]
    *imputers, encoder = steps
    if not all(isinstance(s, SimpleImputer) for s in imputers):
        raise NotCompilable("categorical steps other than imputers before the encoder")
    if isinstance(encoder, OneHotEncoder):
        widths = list(encoder._n_features_outs)
    elif isinstance(encoder, OrdinalEncoder):
        widths = [1] * len(names)
    else:
        raise NotCompilable(f"categorical encoder {type(encoder).__name__}")
    if len(widths) != len(names):
        raise NotCompilable("encoder columns differ from the selected columns")
    # Probe values per column: every category the encoder knows, a missing and an unseen value.
    probes = []
    for j in range(len(names)):
        known = [c for c in encoder.categories_[j] if not (isinstance(c, float) and np.isnan(c))]
        if any(not isinstance(c, str) for c in known):
            raise NotCompilable("non-text categories")
        probes.append([*known, np.nan, _UNSEEN])
    n = max(len(p) for p in probes)
    frame = pd.DataFrame({name: pd.Series(p + [p[0]] * (n - len(p)), dtype=object)
                          for name, p in zip(names, probes, strict=True)})
    out = np.asarray(transformer.transform(frame), dtype="float64")
    if out.shape != (n, sum(widths)):
        raise NotCompilable("encoder output has an unexpected shape")
    columns, tables, start = [], [], 0
    for j, (position, width) in enumerate(zip(positions, widths, strict=True)):
        values = probes[j]
        table = np.ascontiguousarray(out[:len(values), start:start + width])
        start += width
        known = values[:-2]
        columns.append(_Categorical(position=int(position), codes={v: i for i, v in enumerate(known)},
                                    missing=len(known), unseen=len(known) + 1))
        tables.append(table)
    return _CategoricalBlock(columns=tuple(columns), tables=tuple(tables))


def _trees(model: HistGradientBoostingClassifier) -> _Trees:
    if model.n_trees_per_iteration_ != 1:
        raise NotCompilable("more than one tree per iteration")
    known_bitsets, f_idx_map = model._bin_mapper.make_known_categories_bitsets()
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("feature", "threshold", "missing_left", "child",
                                                          "categorical", "bitset", "value")}
    roots, raw_bitsets, offset, bitset_offset, depth = [], [], 0, 0, 0
    for (predictor,) in model._predictors:
        nodes = predictor.nodes
        leaf = nodes["is_leaf"].astype(bool)
        own = np.arange(offset, offset + len(nodes))
        categorical = nodes["is_categorical"].astype(bool) & ~leaf
        parts["feature"].append(np.where(leaf, 0, nodes["feature_idx"]).astype(np.intp))
        parts["threshold"].append(nodes["num_threshold"].astype("float64"))
        parts["missing_left"].append(nodes["missing_go_to_left"].astype(bool))
        # a leaf points at itself, so rows that reached one stay there while deeper trees are walked
        left = np.where(leaf, own, nodes["left"].astype(np.intp) + offset)
        right = np.where(leaf, own, nodes["right"].astype(np.intp) + offset)
        parts["child"].append(np.stack([right, left], axis=1).ravel())
        parts["categorical"].append(categorical)
        parts["bitset"].append(np.where(categorical, nodes["bitset_idx"].astype(np.intp) + bitset_offset, 0))
        parts["value"].append(nodes["value"].astype("float64"))
        roots.append(offset)
        raw = np.asarray(predictor.raw_left_cat_bitsets, dtype=np.uint32).reshape(-1, 8)
        raw_bitsets.append(raw)
        bitset_offset += len(raw)
        offset += len(nodes)
        depth = max(depth, int(nodes["depth"].max()))
    raw = np.vstack(raw_bitsets) if bitset_offset else np.zeros((1, 8), dtype=np.uint32)
    return _Trees(**{k: np.concatenate(v) for k, v in parts.items()}, roots=np.asarray(roots, dtype=np.intp),
                  depth=depth, raw_bitsets=raw, known_bitsets=np.asarray(known_bitsets, dtype=np.uint32),
                  known_row=np.asarray(f_idx_map, dtype=np.intp),
                  baseline=float(np.asarray(model._baseline_prediction).reshape(-1)[0]))


def _build(estimator: Any, spec: FeatureSpec) -> CompiledModel:
    pipeline, calibrator = _calibrated_pipeline(estimator)
    prep, final = pipeline[0], pipeline[-1]
    columns = tuple(spec.columns)
    position = {name: i for i, name in enumerate(columns)}
    blocks: list[_NumericBlock | _CategoricalBlock] = []
    categorical: list[_Categorical] = []
    numeric: list[int] = []
    for name, transformer, selected in prep.transformers_:
        if isinstance(transformer, str):
            if transformer == "drop" or len(selected) == 0:
                continue
            raise NotCompilable(f"transformer {name!r} is {transformer!r}")
        if not all(isinstance(c, str) and c in position for c in selected):
            raise NotCompilable(f"transformer {name!r} selects columns outside the spec")
        positions = np.asarray([position[c] for c in selected], dtype=np.intp)
        kinds = {spec.feature(c).kind == "categorical" for c in selected}
        if kinds == {False}:
            blocks.append(_numeric_block(transformer, positions))
            numeric.extend(positions.tolist())
        elif kinds == {True}:
            block = _categorical_block(transformer, list(selected), positions)
            blocks.append(block)
            categorical.extend(block.columns)
        else:
            raise NotCompilable(f"transformer {name!r} mixes numeric and categorical columns")
    if sorted(numeric + [c.position for c in categorical]) != list(range(len(columns))):
        raise NotCompilable("the preprocessing does not read every spec column exactly once")
    coef = intercept = trees = order = predictors = None
    if isinstance(final, LogisticRegression):
        if final.coef_.shape[0] != 1:
            raise NotCompilable("not a binary logistic regression")
        coef, intercept = final.coef_.T, final.intercept_
    elif isinstance(final, HistGradientBoostingClassifier):
        trees = _trees(final)
        known_bitsets, f_idx_map = final._bin_mapper.make_known_categories_bitsets()
        predictors = _Predictors(trees=tuple(p for (p,) in final._predictors), known_bitsets=known_bitsets,
                                 known_row=f_idx_map, baseline=np.asarray(final._baseline_prediction))
        if final._preprocessor is not None:
            blocks, order = _fold_inner_encoder(blocks, final._preprocessor)
    else:
        raise NotCompilable(f"final estimator {type(final).__name__}")
    return CompiledModel(columns=columns, blocks=tuple(blocks), categorical=tuple(categorical),
                         numeric_positions=np.asarray(sorted(numeric), dtype=np.intp), coef=coef,
                         intercept=intercept, trees=trees, predictors=predictors, order=order,
                         a=calibrator.a_, b=calibrator.b_)


def _fold_inner_encoder(blocks: list[_NumericBlock | _CategoricalBlock], inner: ColumnTransformer
                        ) -> tuple[list[_NumericBlock | _CategoricalBlock], np.ndarray]:
    """Gradient boosting with categorical features re-encodes them itself (an OrdinalEncoder of the codes it
    was fitted on, categorical columns moved first): fold that encoding into the categorical tables and keep
    the column order."""
    encoder = inner.named_transformers_["encoder"]
    selected = dict((name, cols) for name, _, cols in inner.transformers_)
    mask = np.asarray(selected["encoder"])
    if mask.dtype != bool or not np.array_equal(np.asarray(selected["numerical"]), ~mask) \
            or not isinstance(encoder, OrdinalEncoder) or not np.isnan(encoder.unknown_value) \
            or not np.isnan(encoder.encoded_missing_value):
        raise NotCompilable("unexpected gradient-boosting preprocessor")
    categories = {int(o): np.asarray(c, dtype="float64") for o, c in zip(np.flatnonzero(mask), encoder.categories_,
                                                                        strict=True)}
    folded: list[_NumericBlock | _CategoricalBlock] = []
    start = 0
    for block in blocks:
        if isinstance(block, _NumericBlock):
            width = len(block.positions) + (0 if block.indicator is None else len(block.indicator))
            if mask[start:start + width].any():
                raise NotCompilable("a numeric column is categorical to gradient boosting")
            folded.append(block)
            start += width
            continue
        tables = []
        for table in block.tables:
            if table.shape[1] != 1 or start not in categories:
                raise NotCompilable("a categorical column is numeric to gradient boosting")
            known = categories[start]
            known = known[~np.isnan(known)]
            values = table[:, 0]
            index = np.searchsorted(known, values).clip(0, max(len(known) - 1, 0))
            found = (len(known) > 0) & ~np.isnan(values) & (known[index] == values if len(known) else False)
            tables.append(np.where(found, index, np.nan).astype("float64")[:, None])
            start += 1
        folded.append(_CategoricalBlock(columns=block.columns, tables=tuple(tables)))
    if start != len(mask):
        raise NotCompilable("gradient boosting reads another number of columns")
    return folded, np.concatenate([np.flatnonzero(mask), np.flatnonzero(~mask)])


def probe_frame(compiled: CompiledModel, spec: FeatureSpec, *, baseline_row: dict[str, Any],
                rows: int = _PROBE_ROWS, seed: int = 0) -> pd.DataFrame:
    """Rows that exercise every branch of the compiled model: the reference row with each categorical value
    (known, missing, unseen) and each numeric extreme substituted in turn, then random mixtures."""
    rng = np.random.default_rng(seed)
    reference = {c: baseline_row.get(c) for c in compiled.columns}
    choices: dict[str, list[Any]] = {}
    text = {compiled.columns[column.position] for column in compiled.categorical}
    for column in compiled.categorical:
        choices[compiled.columns[column.position]] = [*column.codes, None, _UNSEEN]
    for position in compiled.numeric_positions:
        name = compiled.columns[position]
        ref = reference.get(name)
        base = float(ref) if ref is not None else 1.0
        choices[name] = [None, 0.0, 1.0, -1.0, base, base + 0.5, 2 * base + 3, 1e6, -1e6, 0.25]
    records = [dict(reference)]
    for name, values in choices.items():
        records.extend({**reference, name: v} for v in values)
    for _ in range(rows):
        record = {}
        for name, values in choices.items():
            pick = rng.integers(len(values) + 1)
            if pick == len(values) and name not in text:
                record[name] = float(rng.normal(0, 50))  # a number between the thresholds
            else:
                record[name] = values[min(pick, len(values) - 1)]
        records.append(record)
    frame = pd.DataFrame(records, columns=list(compiled.columns))
    return prepare_frame(frame, spec=spec)[list(compiled.columns)]


def _verify(compiled: CompiledModel, estimator: Any, spec: FeatureSpec, baseline_row: dict[str, Any]) -> None:
    sample = probe_frame(compiled, spec, baseline_row=baseline_row)
    encoded = compiled.encode(sample)
    expected = estimator.predict_proba(sample)[:, 1]
    if not np.array_equal(compiled.probability(encoded), expected):
        raise NotCompilable("compiled probabilities differ from predict_proba on the probe sample")
    if compiled.trees is not None:  # the numpy walk serves small batches, the per-tree predictors large ones
        transformed = compiled.transform(encoded)
        if not np.array_equal(_walk(compiled.trees, transformed),
                              _predict_per_tree(compiled.predictors, transformed)):
            raise NotCompilable("the tree walk differs from the fitted predictors")
    for i in range(0, len(sample), max(1, len(sample) // 8)):  # one row alone, as a real-time request is
        alone = estimator.predict_proba(sample.iloc[[i]])[:, 1]
        if not np.array_equal(compiled.probability(encoded[i:i + 1], row_by_row=True), alone):
            raise NotCompilable("compiled one-row probability differs from predict_proba")


# Keyed by the estimator object (a loaded champion); weak keys let an evicted model go. None = not compilable.
_compiled: weakref.WeakKeyDictionary[Any, CompiledModel | None] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def compiled(model: Any) -> CompiledModel | None:
    """`compile_model` of a LeadScoringModel (its estimator, spec and reference row)."""
    return compile_model(model.estimator, spec=model.spec, baseline_row=model.card.baseline_row)


def predict_probability(model: Any, X: pd.DataFrame) -> np.ndarray:
    """`model.estimator.predict_proba(X)[:, 1]` of prepared spec columns: compiled when the model compiles and
    scikit-learn would accept the numbers (it raises on infinities, and so it still does)."""
    fast = compiled(model)
    if fast is not None:
        encoded = fast.encode(X)
        if fast.finite(encoded):
            return fast.probability(encoded)
    return model.estimator.predict_proba(X)[:, 1]


def compile_model(estimator: Any, *, spec: FeatureSpec, baseline_row: dict[str, Any]) -> CompiledModel | None:
    """The estimator compiled and verified against itself (cached per estimator), or None when it cannot be
    compiled exactly (the caller then uses scikit-learn)."""
    with _lock:
        if estimator in _compiled:
            return _compiled[estimator]
    try:
        compiled: CompiledModel | None = _build(estimator, spec)
        _verify(compiled, estimator, spec, baseline_row)
    except (NotCompilable, AttributeError, TypeError, ValueError, IndexError, KeyError):
        # Any surprise in a fitted object's shape means "serve it with scikit-learn", never a wrong number.
        compiled = None
    with _lock:
        _compiled[estimator] = compiled
    return compiled
