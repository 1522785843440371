"""Which calls act on the world, and which only compute a value: the data behind the slice.

Like :mod:`nb2prod.analyse.methods`, this is data: add a name to its table, never a special case
in :mod:`nb2prod.analyse.slicing`.
"""

from __future__ import annotations

import ast
import re

from nb2prod.analyse.methods import NON_MUTATING
from nb2prod.analyse.plotting import DISPLAY_CALLS
from nb2prod.read.magics import callee, dotted

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
     "argsort", "diff", "cumsum", "isna", "notna", "describe", "summary", "tabulate", "asdict",
     "astuple", "fields", "deepcopy", "dumps"}
)
#: Methods that change the file system, on a ``pathlib.Path`` (``rename``/``replace`` only with one
#: positional argument and no keyword: ``Path.rename(target)``, not ``df.rename(columns=...)``).
FS_METHODS = frozenset({"mkdir", "touch", "unlink", "rmdir", "rename", "replace", "chmod", "lchmod",
                        "symlink_to", "hardlink_to", "link_to", "write_bytes", "write_text"})
#: ``os`` and ``shutil`` functions that change the file system or the process.
FS_FUNCTIONS = frozenset({"remove", "unlink", "rename", "renames", "replace", "mkdir", "makedirs", "rmdir",
                          "removedirs", "chdir", "chmod", "chown", "symlink", "link", "utime", "truncate",
                          "putenv", "unsetenv", "system", "copy", "copy2", "copyfile", "copytree", "copymode",
                          "copystat", "move", "rmtree", "make_archive", "unpack_archive"})
#: Constructors of a local random generator: drawing from it leaves the global streams as they are.
GENERATORS = frozenset({"default_rng", "RandomState", "Generator", "SeedSequence", "PCG64", "PCG64DXSM",
                        "MT19937", "Philox", "SFC64", "Random", "SystemRandom"})
#: Module functions that change an argument in place (``np.random.shuffle(x)``).
ARG_MUTATORS = frozenset({"shuffle", "copyto", "put", "fill_diagonal", "place", "putmask"})
#: Methods whose call writes something out (a file, a log, a store), whatever the receiver.
WRITE_METHOD = re.compile(r"^(save|dump|write|export|log|to_(?!numpy|list|dict|frame|string))")
WRITE_METHODS = NON_MUTATING["writing an object out (pandas, polars, LightGBM, XGBoost, matplotlib figures)"]
#: Modules whose functions act on the world (files, processes, the network, the interpreter).
WORLD_MODULES = frozenset({"os", "shutil", "subprocess", "sys", "pathlib", "Path", "requests", "urllib",
                           "socket", "pickle", "joblib", "warnings", "logging", "mlflow", "wandb",
                           "tempfile", "atexit", "signal", "builtins"})
#: Calls that run code the analysis cannot see.
DYNAMIC_CALLS = frozenset({"exec", "eval", "compile", "__import__", "globals", "locals", "setattr",
                           "delattr", "breakpoint", "input"})
RNG_CALL = re.compile(r"rand|shuffle|sample|split|permutation|choice|normal|uniform|^fit")


def may_draw(name: str) -> bool:
    """A call named like one that draws random numbers (``adjusted_rand_score`` only computes)."""
    return bool(RNG_CALL.search(name)) and not PURE_NAME.search(name) and name not in GENERATORS


def changes_files(call: ast.Call) -> bool:
    """``Path("out").mkdir(exist_ok=True)``, ``out.touch()``, ``p.rename(q)``, ``shutil.rmtree(d)``:
    a call that changes the file system."""
    func = call.func
    if not isinstance(func, ast.Attribute):
        return False
    if isinstance(func.value, ast.Name) and func.value.id in ("os", "shutil"):
        return func.attr in FS_FUNCTIONS  # `shutil.copy(a, b)`, `os.remove(p)`
    if func.attr not in FS_METHODS:
        return False
    return func.attr not in ("rename", "replace") or (len(call.args) == 1 and not call.keywords)
GLOBAL_SEEDS = re.compile(r"(^|\.)(random\.seed|manual_seed|set_seed|seed_everything)$")


def stochastic(call: ast.Call) -> bool:
    """``KFold(shuffle=True)``, ``RandomForestClassifier()``: an object that draws from the global
    generator whenever it is used, because no ``random_state`` fixes its own."""
    keywords = {k.arg: k.value for k in call.keywords if k.arg}
    if "random_state" in keywords or "seed" in keywords or callee(call) in GENERATORS:
        return False  # `np.random.RandomState(0)`: a generator of its own
    shuffles = isinstance(keywords.get("shuffle"), ast.Constant) and keywords["shuffle"].value is True
    return shuffles or bool(re.match(r"(Random|Shuffle|StratifiedShuffle|Extra|Bagging|SGD|MLP)",
                                     callee(call)))


def draws_from_module(call: ast.Call, modules: set[str]) -> bool:
    """``np.random.rand(3)``, ``random.random()``, ``torch.randn(2)``: a draw from a global stream."""
    name = dotted(call.func) or ""
    root = name.split(".")[0]
    if name.rsplit(".", 1)[-1] in GENERATORS:  # `np.random.default_rng(0)` makes a local generator
        return False
    return root in modules and (".random." in f".{name}" or root == "random" or bool(
        re.search(r"\.(rand\w*|normal|manual_seed|bernoulli|multinomial)$", name)))


