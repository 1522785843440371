"""Statements that only draw or show something: matplotlib, seaborn, plotly, pandas ``.plot``,
``display``, ``.style``, and bare display-only expressions.

Inference skips a cell made only of them (:mod:`nb2prod.analyse.infer`). Names bound to what a
plotting call returns (``fig, ax = plt.subplots()``) count as figures for the statements after it.
"""

from __future__ import annotations

import ast

from nb2prod.analyse.names import is_display_only, root_name
from nb2prod.read.magics import all_nodes

PLOT_MODULES = frozenset(
    {"plt", "pyplot", "matplotlib", "mpl", "sns", "seaborn", "px", "go", "plotly", "ff", "alt",
     "altair", "bokeh", "hv", "holoviews", "pylab", "plotnine", "msno", "missingno", "shap"}
)
PLOT_METHODS = frozenset(
    {"plot", "hist", "boxplot", "scatter", "imshow", "show", "savefig", "bar", "barh", "pie",
     "kde", "heatmap", "pairplot", "set_title", "set_xlabel", "set_ylabel", "legend", "tight_layout",
     "scatter_matrix", "plot_tree", "hvplot", "iplot"}
)
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
        if isinstance(sub, ast.Call):
            func = sub.func
            if isinstance(func, ast.Name) and (func.id in DISPLAY_CALLS or func.id in names):
                return True
            if isinstance(func, ast.Attribute):
                root = root_name(func)
                if func.attr in PLOT_METHODS or root in PLOT_MODULES or root in names:
                    return True
                if isinstance(func.value, ast.Attribute) and func.value.attr == "plot":
                    return True  # df.plot.scatter(...)
        if isinstance(sub, ast.Attribute) and sub.attr == "style":
            return True
    return False
