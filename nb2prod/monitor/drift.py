"""Input and output drift: is live traffic still drawn from what the model was trained on?

Numeric columns: the two-sample Kolmogorov–Smirnov test (is the difference real?) and the
population stability index over the reference's quantile bins (is it large?); a column drifted
when both say so, so a tiny but significant shift in a huge sample does not page anyone, and a
noisy PSI on a small one does not either. Categorical columns: chi-squared on the two count
vectors. P-value thresholds are Bonferroni-corrected over the columns compared together, so the
chance of a false alarm on one report stays near the threshold however wide the payload is.
Fewer live rows than ``min_rows`` is "not enough data": no verdict rather than a guess.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from nb2prod.config import MonitorSettings

_MIN_REFERENCE_ROWS = 20
_MAX_MORE_MISSING = 0.1  # live share of missing values this far above training's is drift
_FEW_VALUES = 20  # an integer column with at most this many distinct values is categorical
_EPS = 1e-4  # PSI: a bin with no rows on one side counts as this share, not log(0)


@dataclass
class ColumnDrift:
    """One column's verdict and the numbers behind it (and what the report plots)."""

    column: str
    kind: str  # numeric | categorical
    status: str  # ok | drifted | not enough data
    reference_rows: int
    live_rows: int
    test: str = ""  # "KS" | "chi-squared"
    statistic: float | None = None
    pvalue: float | None = None
    psi: float | None = None
    threshold: float | None = None  # the corrected p-value threshold used
    reason: str = ""
    # for the report: shared bin edges and the two shares, or categories and the two shares
    bins: list[Any] = field(default_factory=list)
    reference_share: list[float] = field(default_factory=list)
    live_share: list[float] = field(default_factory=list)
    new_values: list[str] = field(default_factory=list)

    @property
    def drifted(self) -> bool:
        return self.status == "drifted"

    def as_json(self) -> dict[str, Any]:
        keep = ("column", "kind", "status", "reference_rows", "live_rows", "test", "statistic",
                "pvalue", "psi", "threshold", "reason", "new_values")
        return {k: _plain(getattr(self, k)) for k in keep}


def is_categorical(series: Any) -> bool:
    import pandas as pd

    dtype = series.dtype
    if pd.api.types.is_integer_dtype(dtype) and series.nunique() <= _FEW_VALUES:
        return True  # class labels, small counts: compare the counts of each value
    return not (pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype))


def compare_frames(reference: Any, live: Any, settings: MonitorSettings) -> list[ColumnDrift]:
    """One :class:`ColumnDrift` per reference column (a column missing from live traffic drifted)."""
    import pandas as pd

    columns = [str(c) for c in reference.columns]
    tested = max(1, len(columns))
    results = []
    for column in columns:
        ref = reference[column]
        if column in live.columns:
            cur = live[column]
        else:  # no traffic at all is "not enough data"; traffic without the column is drift
            cur = None if len(live) else pd.Series([], dtype=float)
        results.append(compare_column(column, ref, cur, settings, tested))
    return results


def compare_column(column: str, ref: Any, cur: Any, settings: MonitorSettings,
                   tested: int = 1) -> ColumnDrift:
    import pandas as pd

    categorical = is_categorical(ref)
    kind = "categorical" if categorical else "numeric"
    ref_missing = float(ref.isna().mean()) if len(ref) else 0.0
    ref = ref.dropna()
    if cur is None:
        return ColumnDrift(column, kind, "drifted", len(ref), 0,
                           reason="the column is missing from every logged payload")
    missing = float(cur.isna().mean()) if len(cur) else 0.0
    if len(cur) >= settings.min_rows and missing - ref_missing > _MAX_MORE_MISSING:
        return ColumnDrift(column, kind, "drifted", len(ref), int(cur.notna().sum()),
                           reason=f"{missing:.0%} of the live values are missing (training "
                           f"{ref_missing:.0%})")
    cur = cur.dropna()
    if not categorical:
        converted = pd.to_numeric(cur, errors="coerce")
        if converted.isna().sum() > 0:  # text in a numeric column: compare as categories
            categorical, kind = True, "categorical"
        else:
            cur = converted
    result = ColumnDrift(column, kind, "not enough data", len(ref), len(cur))
    if len(cur) < settings.min_rows:
        result.reason = f"{len(cur)} live rows, fewer than min_rows {settings.min_rows}"
        return result
    if len(ref) < _MIN_REFERENCE_ROWS:
        result.reason = f"{len(ref)} reference rows, fewer than {_MIN_REFERENCE_ROWS}"
        return result
    if categorical:
        return _categorical(result, _labels(ref), _labels(cur), settings, tested)
    return _numeric(result, ref.astype(float).to_numpy(), cur.astype(float).to_numpy(), settings,
                    tested)


def _numeric(result: ColumnDrift, ref: Any, cur: Any, settings: MonitorSettings,
             tested: int) -> ColumnDrift:
    import numpy as np
    from scipy import stats

    ks = stats.ks_2samp(ref, cur)
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, settings.psi_bins + 1)))
    inner = edges[1:-1]
    ref_share = np.bincount(np.searchsorted(inner, ref, side="right"), minlength=len(inner) + 1)
    cur_share = np.bincount(np.searchsorted(inner, cur, side="right"), minlength=len(inner) + 1)
    ref_share = ref_share / ref_share.sum()
    cur_share = cur_share / cur_share.sum()
    a, e = np.maximum(cur_share, _EPS), np.maximum(ref_share, _EPS)
    psi = float(np.sum((a - e) * np.log(a / e)))
    threshold = settings.ks_pvalue / tested
    result.test, result.statistic, result.pvalue = "KS", float(ks.statistic), float(ks.pvalue)
    result.psi, result.threshold = psi, threshold
    significant, large = result.pvalue < threshold, psi >= settings.psi
    result.status = "drifted" if significant and large else "ok"
    result.reason = (
        f"KS p={result.pvalue:.2g} {'<' if significant else '>='} {threshold:.2g}, "
        f"PSI {psi:.3f} {'>=' if large else '<'} {settings.psi:g}; "
        f"mean {np.mean(ref):.4g} -> {np.mean(cur):.4g}"
    )
    lo, hi = float(min(ref.min(), cur.min())), float(max(ref.max(), cur.max()))
    plot_edges = np.linspace(lo, hi, 21) if hi > lo else np.array([lo - 0.5, lo + 0.5])
    result.bins = [float(x) for x in plot_edges]
    result.reference_share = _hist(ref, plot_edges)
    result.live_share = _hist(cur, plot_edges)
    return result


def _categorical(result: ColumnDrift, ref: Any, cur: Any, settings: MonitorSettings,
                 tested: int) -> ColumnDrift:
    import numpy as np
    from scipy import stats

    ref_counts, cur_counts = ref.value_counts(), cur.value_counts()
    categories = sorted(set(ref_counts.index) | set(cur_counts.index))
    table = np.array([[ref_counts.get(c, 0) for c in categories],
                      [cur_counts.get(c, 0) for c in categories]])
    result.new_values = [c for c in categories if ref_counts.get(c, 0) == 0][:10]
    result.bins = categories
    result.reference_share = [float(x) for x in table[0] / table[0].sum()]
    result.live_share = [float(x) for x in table[1] / table[1].sum()]
    threshold = settings.chi2_pvalue / tested
    result.test, result.threshold = "chi-squared", threshold
    if len(categories) < 2:
        result.status, result.reason = "ok", f"one value only ({categories[0]!r})"
        return result
    chi2 = stats.chi2_contingency(table)
    result.statistic, result.pvalue = float(chi2.statistic), float(chi2.pvalue)
    drifted = result.pvalue < threshold
    result.status = "drifted" if drifted else "ok"
    result.reason = f"chi-squared p={result.pvalue:.2g} {'<' if drifted else '>='} {threshold:.2g}"
    if result.new_values:
        result.reason += f"; values never seen in training: {', '.join(result.new_values)}"
    return result


def _labels(series: Any) -> Any:
    """Values as text, whole numbers without ".0": 3 logged as 3.0 is still the label "3"."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        numbers = pd.to_numeric(series, errors="coerce")
        if ((numbers % 1) == 0).all():
            return numbers.astype("int64").astype(str)
    return series.astype(str)


def _hist(values: Any, edges: Any) -> list[float]:
    import numpy as np

    counts, _ = np.histogram(values, bins=edges)
    total = counts.sum()
    return [float(c / total) if total else 0.0 for c in counts]


def _plain(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return value
