"""Statements that only draw or show something: matplotlib, seaborn, plotly, pandas ``.plot`` and
``pd.plotting``, scikit-learn's ``*Display`` classes and ``plot_tree``, LightGBM's and statsmodels'
``plot_*`` functions, scipy's ``dendrogram``, ``display``, ``.style``, bare display-only expressions,
and calls of the notebook's own plotting helpers (:mod:`nb2prod.analyse.plot_helpers`).

Inference skips a cell made only of them (:mod:`nb2prod.analyse.infer`). Names bound to what a
plotting call returns (``fig, ax = plt.subplots()``) count as figures for the statements after it.
"""

from __future__ import annotations

import ast
import re

from nb2prod.analyse.names import is_display_only, root_name
from nb2prod.analyse.operational import is_logging_call
from nb2prod.read.magics import all_nodes

PLOT_MODULES = frozenset(
    {"plt", "pyplot", "matplotlib", "mpl", "sns", "seaborn", "px", "go", "plotly", "ff", "alt",
     "altair", "bokeh", "hv", "holoviews", "pylab", "plotnine", "msno", "missingno", "shap"}
)
PLOT_METHODS = frozenset(
    {"plot", "hist", "boxplot", "scatter", "imshow", "show", "savefig", "bar", "barh", "pie",
     "kde", "heatmap", "pairplot", "set_title", "set_xlabel", "set_ylabel", "legend", "tight_layout",
     "scatter_matrix", "plot_tree", "hvplot", "iplot", "contour", "contourf", "fill_between",
     "errorbar", "axhline", "axvline", "annotate", "colorbar", "suptitle", "set_xlim", "set_ylim",
     "set_xticks", "set_yticks", "set_xticklabels", "set_yticklabels", "matshow", "pcolormesh",
     "violinplot", "hexbin", "semilogx", "semilogy", "loglog", "stackplot", "plot_surface",
     "set_facecolor", "quiver", "streamplot"}
)
#: Library functions that only draw, called by name or on their module (``lgb.plot_importance``).
PLOT_FUNCTIONS = frozenset(
    {"plot_tree", "plot_importance", "plot_metric", "plot_split_value_histogram", "plot_acf",
     "plot_pacf", "plot_predict", "qqplot", "dendrogram", "scatter_matrix", "parallel_coordinates",
     "andrews_curves", "lag_plot", "autocorrelation_plot", "radviz", "bootstrap_plot",
     "plot_partial_dependence", "plot_confusion_matrix", "plot_roc_curve",
     "plot_precision_recall_curve", "plot_diagnostics", "seasonal_plot", "month_plot", "quarter_plot"}
)
#: scikit-learn's display API: ``ConfusionMatrixDisplay.from_estimator(...)``, ``RocCurveDisplay(...)``.
DISPLAY_CLASS = re.compile(r"^[A-Z]\w*Display$")
DISPLAY_CALLS = frozenset({"display", "Markdown", "HTML", "Image"})


def is_plotting(stmt: ast.stmt, names: set[str]) -> bool:
    """Whether ``stmt`` only draws or shows something; names it binds to figures join ``names``."""
    if isinstance(stmt, ast.Import | ast.ImportFrom):
        from_module = stmt.module if isinstance(stmt, ast.ImportFrom) else None
        modules = [from_module or ""] if isinstance(stmt, ast.ImportFrom) else [a.name for a in stmt.names]
        if all(m.split(".")[0] in PLOT_MODULES for m in modules):
            names.update(a.asname or a.name.split(".")[0] for a in stmt.names)
            return True
        return False
    if isinstance(stmt, ast.Expr):
        if is_logging_call(stmt.value):  # `log.info("fold %d", k)`: the job's log, not a display
            return False
        return is_display_only(stmt) or _plot_expr(stmt.value, names)
    if isinstance(stmt, ast.Assign | ast.AnnAssign) and stmt.value is not None:
        if not _plot_expr(stmt.value, names):
            return False
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        for target in targets:
            for node in ast.walk(target):
                if isinstance(node, ast.Name):
                    names.add(node.id)
        return True
    if isinstance(stmt, ast.For | ast.With | ast.If):
        body = [*stmt.body, *getattr(stmt, "orelse", [])]
        return bool(body) and all(is_plotting(s, names) for s in body)
    return isinstance(stmt, ast.Pass)


def _plot_expr(node: ast.expr, names: set[str]) -> bool:
    """A call (or attribute) that draws: on a plotting module or figure, ``.plot``, ``display``."""
    for sub in all_nodes(node):
        if isinstance(sub, ast.Call) and draws(sub, names):
            return True
        if isinstance(sub, ast.Attribute) and sub.attr == "style":
            return True
    return False


def draws(call: ast.Call, names: set[str]) -> bool:
    """Whether this call itself draws (its arguments aside)."""
    func = call.func
    if any(k.arg == "no_plot" for k in call.keywords):  # dendrogram(Z, no_plot=True) computes
        return False
    if isinstance(func, ast.Name):
        return func.id in DISPLAY_CALLS or func.id in names or func.id in PLOT_FUNCTIONS or bool(
            DISPLAY_CLASS.match(func.id))
    if isinstance(func, ast.Attribute):
        root = root_name(func)
        if func.attr in PLOT_METHODS or func.attr in PLOT_FUNCTIONS or root in PLOT_MODULES or root in names:
            return True
        if isinstance(func.value, ast.Attribute) and func.value.attr in ("plot", "plotting"):
            return True  # df.plot.scatter(...), pd.plotting.lag_plot(...)
        chain = func.value
        while isinstance(chain, ast.Attribute):
            if DISPLAY_CLASS.match(chain.attr):
                return True  # metrics.ConfusionMatrixDisplay.from_estimator(...)
            chain = chain.value
        return isinstance(chain, ast.Name) and bool(DISPLAY_CLASS.match(chain.id))
    return False
