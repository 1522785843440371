"""The serving path: which steps are ``inference``, what a request must bring, and what it must not.

The inference path is the ``inference`` steps in run order; its payload is their inputs that are neither
models (``model:VAR``) nor parameters. A payload input computed with a fitted object outside the
inference steps (``X_test_scaled = scaler.transform(X_test)`` in a training step) cannot come from a
request: the client has no scaler. That is a build error naming the step, cell, line and call, as is a
fitted object the inference steps read that no ``model:`` tag names.
"""

from __future__ import annotations

import ast
import dataclasses
from dataclasses import dataclass

from nb2prod.analyse.cells import MODULE_ROLES, CellCode
from nb2prod.analyse.names import root_name, statement_events
from nb2prod.analyse.plan import Inference, MetricFunction, Plan, Step
from nb2prod.errors import AnalysisError, TagError

#: Names the generated module defines when a notebook has ``model:`` tags.
SERVING_NAMES = frozenset({"fit", "predict"})
#: Methods that fit an object in place (and return it): the object is a model.
FIT_METHODS = frozenset({"fit", "fit_transform", "fit_predict", "partial_fit", "fit_resample"})


def serving_names(parsed: list[CellCode]) -> frozenset[str]:
    """``fit`` and ``predict`` are taken when the notebook tags a model; nothing otherwise."""
    return SERVING_NAMES if any(p.cell.tags.models for p in parsed) else frozenset()


@dataclass(frozen=True)
class _Origin:
    """Where a value picked up a fitted object: the step, cell, line and the expression."""

    step: str
    cell: int
    line: int
    through: str  # "scaler.transform"
    model: str


def with_inference(plan: Plan, parsed: list[CellCode]) -> Plan:
    """``plan`` with its :class:`Inference` (or None) and the serving path's warnings."""
    nb = plan.notebook
    for p in parsed:
        if p.cell.tags.inference and p.role != "step":
            raise TagError(
                "the cell is tagged 'inference' but is not part of a step (it comes before the "
                "first 'step:NAME' tag).",
                path=nb.display_path,
                cell=p.cell.index,
                hint="tag the cell 'step:NAME' as well, or remove 'inference'.",
            )
    clash = sorted(_module_names(parsed) & serving_names(parsed))
    if clash:
        raise AnalysisError(
            f"module-level name {clash[0]!r} clashes with the generated module's own {clash[0]}() "
            "(the notebook tags a model, so the module gets fit() and predict()).",
            path=nb.display_path,
            hint=f"rename {clash[0]!r} in the notebook, e.g. {clash[0] + '_model'!r}.",
        )
    tagged = {c.index for c in nb.cells if c.tags.inference}
    steps = [s for s in plan.steps if tagged & set(s.cells)]
    model_names = [t.name for t in plan.models]
    warnings = list(plan.warnings)
    if not steps:
        for t in plan.models:
            warnings.append(
                f"{nb.display_path}, cell {t.cell}: 'model:{t.name}' is saved by `nb2prod train`, "
                "but no step is tagged 'inference', so the module has no predict()."
            )
        return dataclasses.replace(plan, warnings=tuple(warnings))
    if not plan.models:
        raise TagError(
            f"step {steps[0].name!r} is tagged 'inference', but no cell tags a fitted object "
            "'model:VAR', so there is nothing to serve.",
            path=nb.display_path,
            cell=steps[0].cells[0],
            hint="tag the cell that fits the model, e.g. 'model:model' on the training cell.",
        )
    inference_names = {s.name for s in steps}
    for t in plan.models:
        if t.step in inference_names:
            raise AnalysisError(
                f"model {t.name!r} is fitted in inference step {t.step!r}: predict() would train it "
                "again on every request.",
                path=nb.display_path,
                cell=t.cell,
                hint=f"fit {t.name!r} in a training step, or remove 'inference' from step {t.step!r}.",
            )
    parameters = {p.name for p in plan.parameters}
    origins, fitted = _model_origins(parsed, set(model_names), inference_names)
    payload: dict[str, None] = {}
    used_models: dict[str, None] = {}
    used_params: dict[str, None] = {}
    for step in steps:
        for name in step.inputs:
            writer = _writer(plan, step, name)
            if writer is not None and writer.name in inference_names:
                continue
            if name in model_names:
                used_models[name] = None
            elif name in parameters and writer is None:
                used_params[name] = None
            else:
                _check_payload(plan, step, name, writer, origins, fitted)
                payload[name] = None
    for t in plan.models:
        if t.name not in used_models:
            warnings.append(
                f"{nb.display_path}, cell {t.cell}: 'model:{t.name}' is saved, but no inference "
                f"step reads {t.name!r}."
            )
    outputs = tuple(t.name for t in plan.parity_targets if t.step in inference_names)
    if not outputs:
        raise TagError(
            f"the inference steps ({', '.join(repr(s.name) for s in steps)}) compute no 'parity:VAR' "
            "target, so predict() would return nothing.",
            path=nb.display_path,
            cell=steps[-1].cells[0],
            hint="tag the prediction, e.g. 'parity:y_pred' on the cell that computes it.",
        )
    inference = Inference(
        steps=tuple(s.name for s in steps),
        payload=tuple(payload),
        models=tuple(used_models),
        parameters=tuple(used_params),
        outputs=outputs,
        metric_functions=tuple(_metric_functions(plan, parsed, outputs)),
    )
    return dataclasses.replace(plan, inference=inference, warnings=tuple(warnings))


def _module_names(parsed: list[CellCode]) -> set[str]:
    return {
        e.name
        for p in parsed
        if p.role in MODULE_ROLES
        for stmt in p.kept
        for e in statement_events(stmt)
        if e.kind == "write"
    }


def _writer(plan: Plan, step: Step, name: str) -> Step | None:
    """The step ``step`` takes ``name`` from (None: the parameters cell)."""
    before = [s for s in plan.steps if s.name in step.depends_on and name in s.outputs]
    return before[-1] if before else None


def _check_payload(
    plan: Plan,
    step: Step,
    name: str,
    writer: Step | None,
    origins: dict[str, _Origin],
    fitted: dict[str, tuple[str, int, int, str]],
) -> None:
    nb = plan.notebook
    if name in fitted:
        made_in, cell, line, call = fitted[name]
        raise AnalysisError(
            f"inference step {step.name!r} reads {name!r}, which step {made_in!r} fits "
            f"(`{call}`, cell {cell}, line {line}), but no 'model:' tag names it, so a request "
            "would have to send it.",
            path=nb.display_path,
            cell=step.cells[0],
            hint=f"tag cell {cell} 'model:{name}' so `nb2prod train` saves it.",
        )
    origin = origins.get(name)
    if origin is not None:
        raise AnalysisError(
            f"inference step {step.name!r} reads {name!r}, a training-only value: {name} comes from "
            f"step {origin.step!r} through `{origin.through}` (cell {origin.cell}, line "
            f"{origin.line}), and a request cannot supply what a fitted {origin.model!r} computes.",
            path=nb.display_path,
            cell=step.cells[0],
            hint=f"move that line into the inference step {step.name!r}, so the request brings "
            "the raw input and predict() applies the model itself.",
        )


def _model_origins(
    parsed: list[CellCode], models: set[str], inference_steps: set[str]
) -> tuple[dict[str, _Origin], dict[str, tuple[str, int, int, str]]]:
    """Replay the training steps statement by statement: which names were computed with a model
    (and where), and which untagged names were fitted (``scaler.fit(X)``)."""
    origins: dict[str, _Origin] = {}
    fitted: dict[str, tuple[str, int, int, str]] = {}
    for p in parsed:
        if p.role != "step" or p.step in inference_steps or p.tree is None:
            continue
        for stmt in p.kept:
            if isinstance(stmt, ast.Import | ast.ImportFrom):
                continue
            events = statement_events(stmt)
            reads = {e.name for e in events if e.kind in ("read", "mutate")}
            writes = [e for e in events if e.kind in ("write", "mutate")]
            source = next((r for r in sorted(reads) if r in models or r in origins or r in fitted), None)
            fit_call = _fit_call(stmt)
            for event in writes:
                name = event.name
                if name in models:
                    continue
                if fit_call is not None and fit_call[0] == name:
                    fitted[name] = (p.step or "", p.cell.index, stmt.lineno, fit_call[1])
                if source is not None and source != name:
                    if source in origins:
                        origins[name] = dataclasses.replace(origins[source])
                    else:
                        origins[name] = _Origin(
                            p.step or "", p.cell.index, stmt.lineno, _through(stmt, source), source
                        )
                elif event.kind == "write" and source is None:
                    origins.pop(name, None)  # a fresh value, computed without a model
    return origins, fitted


def _fit_call(stmt: ast.stmt) -> tuple[str, str] | None:
    """``("scaler", "scaler.fit")`` for ``scaler.fit(X)`` or ``scaler = StandardScaler().fit(X)``."""
    for node in ast.walk(stmt):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in FIT_METHODS:
                name = root_name(node.func.value)
                if name is not None:
                    return name, ast.unparse(node.func)
                if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
                    if stmt.value is node:
                        return stmt.targets[0].id, ast.unparse(node.func)
    return None


def _through(stmt: ast.stmt, model: str) -> str:
    """The expression in ``stmt`` that uses ``model``: ``scaler.transform``, else the name."""
    for node in ast.walk(stmt):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if root_name(node.func.value) == model:
                return ast.unparse(node.func)
    for node in ast.walk(stmt):
        if isinstance(node, ast.Attribute) and root_name(node) == model:
            return ast.unparse(node)
    return model


def _metric_functions(plan: Plan, parsed: list[CellCode], outputs: tuple[str, ...]) -> list[MetricFunction]:
    """``r2 = r2_score(y_test, y_pred)``: the function, the truth and the prediction, when the
    metric is one plain call on a predict() output and its function is imported by name."""
    imported = _imported_names(parsed)
    found: list[MetricFunction] = []
    metrics = {t.name for t in plan.metric_targets}
    for p in parsed:
        if p.role != "step" or p.tree is None:
            continue
        for stmt in p.kept:
            if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1):
                continue
            target, call = stmt.targets[0], stmt.value
            if not (isinstance(target, ast.Name) and target.id in metrics and isinstance(call, ast.Call)):
                continue
            args = [a.id for a in call.args[:2] if isinstance(a, ast.Name)]
            keywords = {k.arg: k.value.id for k in call.keywords if isinstance(k.value, ast.Name)}
            truth = args[0] if args else keywords.get("y_true")
            prediction = args[1] if len(args) > 1 else keywords.get("y_pred")
            function = _qualified(call.func, imported)
            if function and truth and prediction in outputs:
                found = [f for f in found if f.metric != target.id]
                found.append(MetricFunction(target.id, function, truth, prediction))
    return found


def _imported_names(parsed: list[CellCode]) -> dict[str, str]:
    """Local name -> qualified name, from the exported imports (``r2_score`` -> ``sklearn.metrics.r2_score``)."""
    names: dict[str, str] = {}
    for p in parsed:
        if p.tree is None or p.role not in ("step", *MODULE_ROLES):
            continue
        for stmt in p.kept:
            if isinstance(stmt, ast.ImportFrom) and stmt.module and not stmt.level:
                for alias in stmt.names:
                    names[alias.asname or alias.name] = f"{stmt.module}.{alias.name}"
            elif isinstance(stmt, ast.Import):
                for alias in stmt.names:
                    names[alias.asname or alias.name.split(".")[0]] = (
                        alias.name if alias.asname else alias.name.split(".")[0]
                    )
    return names


def _qualified(func: ast.expr, imported: dict[str, str]) -> str | None:
    if isinstance(func, ast.Name):
        return imported.get(func.id)
    if isinstance(func, ast.Attribute):
        base = _qualified(func.value, imported)
        return f"{base}.{func.attr}" if base else None
    return None
