"""The benchmark's notebooks: copies of the bundled examples with varied code, in a temporary folder.

Every copy differs from the others in code (a renamed helper variable, its own constant, a varied
parameter default), so nothing can be shared between them by a cache keyed on the code: each is a
real build. All copies are ``.ipynb`` (the percent-format example is converted with jupytext), so
``jupyter nbconvert --to script`` can read every one of them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "notebooks"


def example_notebooks() -> list[dict]:
    """The bundled examples as notebook dicts (nbformat 4), in a fixed order."""
    return _notebooks_in(EXAMPLES)


def _notebooks_in(folder: Path) -> list[tuple[str, dict]]:
    """Every .ipynb and percent-format .py directly in ``folder``, as nbformat 4 dicts, by name."""
    import jupytext
    import nbformat

    found = []
    for path in sorted(folder.iterdir()):
        if path.suffix == ".ipynb":
            nb = nbformat.read(path, as_version=4)
        elif path.suffix == ".py":
            nb = jupytext.read(path)
        else:
            continue
        found.append((path.stem, json.loads(nbformat.writes(nb))))
    return found


def _vary(nb: dict, k: int) -> dict:
    """A copy of ``nb`` whose exported code is unique to ``k`` (and still runs)."""
    nb = json.loads(json.dumps(nb))
    first_step = None
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        tags = cell.get("metadata", {}).get("tags", [])
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if {"parameters", "pipeline-parameters"} & set(tags):
            source += f"\nvariant = {k}\n"
        elif first_step is None and (
            any(t.startswith(("step:", "block:")) for t in tags) or "#| step:" in source
        ):
            first_step = cell
            source += (
                f"\n# variant {k}: a little extra work, different in every copy\n"
                f"offset_{k} = [variant * i for i in range({k % 7 + 2})]\n"
                f"scale_{k} = sum(offset_{k}) / {k + 1}\n"
                f"assert scale_{k} >= 0  # kept: nb2prod's slicing drops what nothing needs\n"
            )
        cell["source"] = source
        cell["outputs"] = [] if "outputs" in cell else cell.get("outputs")
        if "outputs" in cell and cell["outputs"] is None:
            del cell["outputs"]
    return nb


def make_corpus(folder: Path, count: int) -> list[Path]:
    """Write ``count`` varied copies of the examples into ``folder`` (emptied first)."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    examples = example_notebooks()
    paths = []
    for k in range(count):
        stem, nb = examples[k % len(examples)]
        path = folder / f"{stem}_{k:03d}.ipynb"
        path.write_text(json.dumps(_vary(nb, k), indent=1), encoding="utf-8")
        paths.append(path)
    return paths


REAL = ROOT / "tests" / "fixtures" / "notebooks" / "real"
_LEADING = ("#", "%", "!")  # directives, prose comments and magics stay above the inserted line


def real_notebooks() -> list[tuple[str, dict]]:
    """The real-shaped corpus (helpers, magics, ``#|`` directives, skipped plots) as notebook
    dicts, in a fixed order; percent-format scripts are converted with jupytext, as above."""
    return _notebooks_in(REAL)


def _vary_real(nb: dict, k: int) -> dict:
    """A copy of a real-shaped notebook whose code differs from every other copy in two places.

    The parameters cell (when there is one) gets a parameter of its own, which changes the module's
    ``PARAMETERS``, ``run()`` and any step that reads nothing else; the first step cell gets a line
    of its own under its leading comments, directives and magics, with an ``assert`` that reads
    it, so the generated step keeps it and black meets a step it has not seen in every copy. The other cells are the same in
    every copy of a notebook, as the unchanged cells of an edited notebook are.
    """
    nb = json.loads(json.dumps(nb))
    varied_step = False
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        cell["outputs"] = []
        tags = set(cell.get("metadata", {}).get("tags", []))
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if {"parameters", "pipeline-parameters"} & tags:
            source = source.rstrip("\n") + f"\ncopy_number = {k}\n"
        elif not varied_step and (
            any(t.startswith(("step:", "block:")) for t in tags) or "#| step:" in source
        ):
            varied_step = True
            lines = source.split("\n")
            at = next((i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith(_LEADING)), len(lines))
            lines[at:at] = [  # the assert keeps both lines: nb2prod's slicing drops what nothing needs
                f"copy_scale = {k + 1} / {k + 2}  # copy {k}: its own line",
                "assert copy_scale < 1",
            ]
            source = "\n".join(lines)
        cell["source"] = source
    return nb


def make_real_corpus(folder: Path, count: int) -> list[Path]:
    """Write ``count`` varied copies of the real-shaped notebooks into ``folder`` (emptied first),
    with the data files they read."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for data in REAL.glob("*.csv"):
        shutil.copy(data, folder / data.name)
    notebooks = real_notebooks()
    paths = []
    for k in range(count):
        stem, nb = notebooks[k % len(notebooks)]
        path = folder / f"{stem}_{k:03d}.ipynb"
        path.write_text(json.dumps(_vary_real(nb, k), indent=1), encoding="utf-8")
        paths.append(path)
    return paths
