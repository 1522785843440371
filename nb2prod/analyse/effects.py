"""Which calls act on the world, and which only compute a value: the data behind the slice.

Like :mod:`nb2prod.analyse.methods`, this is data: add a name to its table, never a special case
in :mod:`nb2prod.analyse.slicing`.
"""

from __future__ import annotations

import ast
import re

from nb2prod.analyse.methods import NON_MUTATING
from nb2prod.analyse.plotting import DISPLAY_CALLS

#: Built-ins that neither change their arguments nor the world (print only shows).
PURE_BUILTINS = frozenset(
    {"len", "range", "list", "dict", "set", "tuple", "sorted", "sum", "min", "max", "abs", "round",
     "zip", "enumerate", "isinstance", "issubclass", "str", "int", "float", "bool", "print", "repr",
     "type", "any", "all", "map", "filter", "reversed", "format", "hash", "id", "iter", "next",
     "getattr", "hasattr", "frozenset", "bytes", "divmod", "pow", "chr", "ord", "hex", "bin", "dir",
     "vars", "callable", "slice", "complex"} | DISPLAY_CALLS
)
#: Functions whose name says they compute a value from their arguments: metrics and reports.
PURE_NAME = re.compile(r"(_score|_error|_report|_matrix|_loss)$|^(score|mean|median|std|var)$")
#: Library functions that only compute a value: their call as a bare expression only shows it.
PURE_MODULE_FUNCTIONS = frozenset(
    {"crosstab", "concat", "DataFrame", "Series", "array", "asarray", "zeros", "ones", "arange",
     "linspace", "unique", "corrcoef", "pivot_table", "get_dummies", "cut", "qcut", "to_datetime",
     "to_numeric", "isnan", "allclose", "isclose", "percentile", "histogram", "bincount", "sqrt",
     "log", "exp", "dot", "matmul", "vstack", "hstack", "stack", "concatenate", "shape", "sort",
     "argsort", "diff", "cumsum", "isna", "notna", "describe", "summary", "tabulate"}
)
#: Module functions that change an argument in place (``np.random.shuffle(x)``).
ARG_MUTATORS = frozenset({"shuffle", "copyto", "put", "fill_diagonal", "place", "putmask"})
#: Methods whose call writes something out (a file, a log, a store), whatever the receiver.
WRITE_METHOD = re.compile(r"^(save|dump|write|export|log|to_(?!numpy|list|dict|frame|string))")
WRITE_METHODS = NON_MUTATING["writing an object out (pandas, polars, LightGBM, XGBoost, matplotlib figures)"]
#: Calls that run code the analysis cannot see.
DYNAMIC_CALLS = frozenset({"exec", "eval", "compile", "__import__", "globals", "locals", "setattr",
                           "delattr", "breakpoint", "input"})
RNG_CALL = re.compile(r"rand|shuffle|sample|split|permutation|choice|normal|uniform|^fit")
GLOBAL_SEEDS = re.compile(r"(^|\.)(random\.seed|manual_seed|set_seed|seed_everything)$")


def stochastic(call: ast.Call) -> bool:
    """``KFold(shuffle=True)``, ``RandomForestClassifier()``: an object that draws from the global
    generator whenever it is used, because no ``random_state`` fixes its own."""
    keywords = {k.arg: k.value for k in call.keywords if k.arg}
    if "random_state" in keywords or "seed" in keywords:
        return False
    shuffles = isinstance(keywords.get("shuffle"), ast.Constant) and keywords["shuffle"].value is True
    return shuffles or bool(re.match(r"(Random|Shuffle|StratifiedShuffle|Extra|Bagging|SGD|MLP)",
                                     callee(call)))


def draws_from_module(call: ast.Call, modules: set[str]) -> bool:
    """``np.random.rand(3)``, ``random.random()``, ``torch.randn(2)``: a draw from a global stream."""
    name = dotted(call.func) or ""
    root = name.split(".")[0]
    return root in modules and (".random." in f".{name}" or root == "random" or bool(
        re.search(r"\.(rand\w*|normal|manual_seed|bernoulli|multinomial)$", name)))


def callee(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None
