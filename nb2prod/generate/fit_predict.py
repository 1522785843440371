"""``fit(**params)`` and ``predict(models, **payload)``: the training job's and the server's entry points.

Both are pure and, like ``run()``, never import nb2prod: ``fit`` runs every step and returns the fitted
models (``model:`` tags), the metrics, and the inference path's payload and outputs as training saw
them (round-trip parity and the drift reference need those); ``predict`` runs only the ``inference``
steps on a request's payload. Saving, loading and serving are nb2prod's job, not the module's.
"""

from __future__ import annotations

from nb2prod.analyse.plan import Plan
from nb2prod.generate.source import MUTABLE_TYPES, indent, signature_argument


def serving_functions(plan: Plan) -> list[str]:
    """The module's ``fit`` (when it tags a model) and ``predict`` (when it has inference steps)."""
    if not plan.models:
        return []
    functions = [_fit_function(plan)]
    if plan.inference is not None:
        functions.append(_predict_function(plan))
    return functions


def _taken(plan: Plan) -> set[str]:
    names = {p.name for p in plan.parameters} | {s.function for s in plan.steps}
    return names | {o for s in plan.steps for o in (*s.outputs, *s.inputs)}


def _free(name: str, taken: set[str]) -> str:
    while name in taken:
        name = f"_nb2prod_{name.lstrip('_')}"
    return name


def _call(step_function: str, inputs: tuple[str, ...], outputs: tuple[str, ...]) -> str:
    call = f"{step_function}({', '.join(inputs)})"
    return f"{', '.join(outputs)} = {call}" if outputs else call


def _fit_function(plan: Plan) -> str:
    taken = _taken(plan)
    payload, snapshot = _free("payload", taken), _free("copy", taken)
    inference = plan.inference
    lines = [
        '"""Run every step, as a training job.',
        "",
        "Returns the fitted models, the metrics, and the payload and outputs of the inference",
        "steps as training saw them.",
        '"""',
        "if unknown:",
        "    raise TypeError(",
        '        f"fit() got unknown parameter(s) {\', \'.join(sorted(unknown))}; "',
        f'        "known parameters: {", ".join(p.name for p in plan.parameters) or "none"}"',
        "    )",
    ]
    lines += plan.config.splitlines()  # configuration statements of the imports cell (see run())
    if inference is not None:
        imported = "copy" if snapshot == "copy" else f"copy as {snapshot}"
        lines += [f"from copy import {imported}", "", f"{payload} = {{}}"]
    for p in plan.parameters:
        if p.type_name in MUTABLE_TYPES:
            lines.append(f"{p.name} = {p.literal} if {p.name} is None else {p.name}")
    captured: set[str] = set()
    for step in plan.steps:
        if inference is not None and step.name in inference.steps:
            for name in step.inputs:  # as the inference step receives it, before it may change it
                if name in inference.payload and name not in captured:
                    lines.append(f"{payload}[{_q(name)}] = {snapshot}({name})")
                    captured.add(name)
        lines.append(_call(step.function, step.inputs, step.outputs))
    models = ", ".join(f"{_q(t.name)}: {t.name}" for t in plan.models)
    metrics = ", ".join(f"{_q(t.name)}: {t.name}" for t in plan.metric_targets)
    result = [f'"models": {{{models}}}', f'"metrics": {{{metrics}}}']
    if inference is not None:
        outputs = ", ".join(f"{_q(name)}: {name}" for name in inference.outputs)
        result += [f'"payload": {payload}', f'"targets": {{{outputs}}}']
    lines.append("return {")
    lines += [f"    {item}," for item in result]
    lines.append("}")
    signature = ["*", *(signature_argument(p) for p in plan.parameters), "**unknown"] if plan.parameters else ["**unknown"]
    return _signature("fit", signature) + "\n" + "\n".join(
        indent(line) for line in lines
    )


def _predict_function(plan: Plan) -> str:
    inference = plan.inference
    assert inference is not None
    taken = _taken(plan)
    models = _free("models", taken)
    parameters = [p for p in plan.parameters if p.name in inference.parameters]
    what = ", ".join(inference.payload) or "no inputs"
    lines = [
        '"""The serving path: run only the inference steps, with the models fit() returned.',
        "",
        f"Payload: {what}. Returns the predictions by name.",
        '"""',
    ]
    for p in parameters:
        if p.type_name in MUTABLE_TYPES:
            lines.append(f"{p.name} = {p.literal} if {p.name} is None else {p.name}")
    lines += [f"{name} = {models}[{_q(name)}]" for name in inference.models]
    for step in plan.steps:
        if step.name in inference.steps:
            lines.append(_call(step.function, step.inputs, step.outputs))
    outputs = ", ".join(f"{_q(name)}: {name}" for name in inference.outputs)
    lines.append(f"return {{{outputs}}}")
    keywords = [*inference.payload, *(signature_argument(p) for p in parameters)]
    signature = [f"{models}: dict[str, object]", "/", *(["*", *keywords] if keywords else [])]
    return _signature("predict", signature) + "\n" + "\n".join(
        indent(line) for line in lines
    )


def _q(name: str) -> str:
    """An identifier as black quotes it (``"X_test"``), so black's first pass leaves it alone."""
    return f'"{name}"'


def _signature(name: str, arguments: list[str]) -> str:
    """``def NAME(...) -> dict[str, object]:`` in black's layout: one line, the arguments on one
    line of their own, or one per line with a trailing comma."""
    returns = ") -> dict[str, object]:"
    line = f"def {name}({', '.join(arguments)}{returns}"
    if len(line) <= 88:
        return line
    inner = ", ".join(arguments)
    if len("    " + inner) <= 88:
        return f"def {name}(\n    {inner}\n{returns}"
    return f"def {name}(\n" + "".join(f"    {a},\n" for a in arguments) + returns
