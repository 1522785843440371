"""Calls whose effect is for the people running the code, not for its results: logging, which the
pipeline keeps (it is the job's operational output), and display settings, which it drops (a
pipeline shows no tables: ``pd.options.display.*``, ``pd.set_option("display....")``,
``np.set_printoptions``).

Like :mod:`nb2prod.analyse.effects`, this is data: add a name to a table, not a special case.
"""

from __future__ import annotations

import ast
import re

from nb2prod.read.magics import callee, dotted, tree_nodes

#: Logger methods (``logging.Logger``, loguru, structlog) and the ``logging`` module's functions.
LOG_METHODS = frozenset({"debug", "info", "warning", "warn", "error", "exception", "critical", "fatal", "log"})
#: Names that by convention hold a logger (or are the ``logging`` module): ``log``, ``self.logger``.
LOGGER_NAME = re.compile(r"^_*(log|logger|LOG|LOGGER|logging|loguru)$")
#: Calls that return a logger: ``logging.getLogger(__name__)``, ``structlog.get_logger()``.
LOGGER_FACTORIES = frozenset({"getLogger", "get_logger", "getChild"})
#: ``pd.set_option("display.max_rows", 10)``'s short forms, still accepted by pandas.
_DISPLAY_OPTIONS = re.compile(r"^(display\.|max_(rows|columns|colwidth)$|precision$|float_format$|width$|"
                              r"expand_frame_repr$|chop_threshold$)")
#: Functions that only change how values print.
PRINT_SETTINGS = frozenset({"set_printoptions", "set_string_function", "set_eng_float_format"})


def loggers_bound(trees: list[ast.Module]) -> set[str]:
    """Names bound to a logger anywhere in ``trees``: ``log = logging.getLogger("train")``."""
    return {
        target.id for tree in trees for node in tree_nodes(tree) if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Call) and callee(node.value) in LOGGER_FACTORIES
        for target in node.targets if isinstance(target, ast.Name)
    }


def is_logging_call(call: ast.AST, loggers: set[str] | frozenset[str] = frozenset()) -> bool:
    """``logger.info(...)``, ``logging.warning(...)``, ``self.log.debug(...)``,
    ``logging.getLogger(__name__).info(...)``, or ``lg.info("fold %d", k)`` (a message first)."""
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Attribute):
        return False
    func = call.func
    if func.attr not in LOG_METHODS:
        return False
    owner = func.value
    name = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else ""
    if name in loggers or LOGGER_NAME.match(name):
        return True
    if isinstance(owner, ast.Call) and callee(owner) in LOGGER_FACTORIES:
        return True
    return bool(call.args) and _is_message(call.args[0])  # `df.info()`, `np.log(x)`: no message


def logs(stmt: ast.stmt, loggers: set[str] | frozenset[str] = frozenset()) -> bool:
    """A statement that is a logging call (``log.info("fold %d", k)``)."""
    return isinstance(stmt, ast.Expr) and is_logging_call(stmt.value, loggers)


def is_display_setting(stmt: ast.stmt) -> bool:
    """``pd.options.display.float_format = "{:.2f}".format``, ``pd.set_option("display.max_rows", 10)``,
    ``np.set_printoptions(precision=3)``: how values print, which a pipeline never shows."""
    if isinstance(stmt, ast.Assign | ast.AugAssign | ast.AnnAssign):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        return all(".options.display." in f".{dotted(t) or ''}." for t in targets)
    if not isinstance(stmt, ast.Expr) or not isinstance(stmt.value, ast.Call):
        return False
    call = stmt.value
    name = callee(call)
    if name in PRINT_SETTINGS:
        return True
    if name in ("set_option", "reset_option") and call.args:
        keys = call.args[::2] if name == "set_option" else call.args[:1]
        return all(isinstance(k, ast.Constant) and isinstance(k.value, str) and _DISPLAY_OPTIONS.match(k.value)
                   for k in keys)
    return False


def _is_message(node: ast.AST | None) -> bool:
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        node = node.left
    return isinstance(node, ast.Constant) and isinstance(node.value, str)
