"""``nb2prod status``: is each notebook's production model still the one its code, parameters and data
would train today? A scheduled CI job runs it and retrains when it exits 1.

Per notebook: code (the generated version is current, or stale and why), data (each data file the
production model's card lists, hashed again: changed or missing files are named), model (a
production model exists, was trained by the current version, with today's parameter defaults).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nb2prod.train.store import ModelStore


@dataclass
class NotebookStatus:
    notebook: str
    name: str
    code: str  # "current" | "stale: <why>" | "never built"
    version: str | None
    tags_models: bool  # the current version saves models (has `model:` tags)
    production: str | None = None
    trained_by: str | None = None  # code version of the production model
    data_files: int = 0  # how many data files the production model's card lists
    data_changed: list[dict[str, Any]] = field(default_factory=list)  # path, trained, now
    parameters_changed: dict[str, dict[str, Any]] = field(default_factory=dict)  # name: trained, now
    due: list[str] = field(default_factory=list)  # why a rebuild or retrain is due

    @property
    def ok(self) -> bool:
        return not self.due

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def notebook_status(path: Path, *, out_dir: Path, store: ModelStore, root: Path) -> NotebookStatus:
    from nb2prod.store.build import BuildRow, prepare
    from nb2prod.store.versions import current_version, read_manifest, staleness

    (item,) = prepare([path], out_dir, root)
    if isinstance(item, BuildRow):
        name, shown, code, defaults, tagged = item.name, item.notebook, None, None, False
    else:
        plan = item.plan
        name, shown = plan.name, plan.notebook.display_path
        code = staleness(out_dir, plan, item.code_hash)
        defaults = {p.name: p.default for p in plan.parameters}
        tagged = bool(plan.models)
    version = current_version(out_dir / name)
    manifest = read_manifest(out_dir / name, version) if version else {}
    status = NotebookStatus(
        notebook=shown, name=name, code="current" if code is None else f"stale: {code}",
        version=version, tags_models=bool(manifest.get("models")) or tagged,
    )
    if version is None:
        status.code = "never built"
    if code is not None:
        status.due.append(f"rebuild: {code}")
    if defaults is None:
        defaults = {k: v.get("default") for k, v in manifest.get("parameters", {}).items()}
    if not status.tags_models:
        return status
    status.production = store.production_id(name)
    if status.production is None:
        status.due.append("train: no production model")
        return status
    card = store.card(name, status.production)
    status.trained_by = card["code"]["version"]
    if status.trained_by != version:
        status.due.append(f"retrain: the production model was trained by {status.trained_by}; current is {version}")
    overridden = set(card.get("parameter_overrides", {}))
    for key, now in defaults.items():
        trained = card.get("parameters", {}).get(key, _MISSING)
        if key not in overridden and trained != now:
            status.parameters_changed[key] = {"trained": None if trained is _MISSING else trained, "now": now}
    if status.parameters_changed:
        names = ", ".join(status.parameters_changed)
        status.due.append(f"retrain: parameter defaults changed ({names})")
    status.data_files = len(card.get("data_files", []))
    status.data_changed = changed_data(card, root)
    if status.data_changed:
        names = ", ".join(d["path"] for d in status.data_changed)
        status.due.append(f"retrain: data changed ({names})")
    return status


_MISSING = object()


def changed_data(card: dict[str, Any], root: Path) -> list[dict[str, Any]]:
    """The card's data files whose sha256 differs today (or that are gone)."""
    from nb2prod.analyse.lineage import _facts

    changed = []
    for entry in card.get("data_files", []):
        if entry.get("remote") or entry.get("sha256") is None:
            continue
        path = Path(entry["path"])
        facts = _facts(path if path.is_absolute() else root / path, root)
        now = facts.get("sha256")
        if now != entry["sha256"]:
            changed.append({"path": entry["path"], "trained": entry["sha256"], "now": now})
    return changed


def print_statuses(statuses: list[NotebookStatus], console: Any) -> None:
    from rich.table import Table

    table = Table(show_edge=False, header_style="bold")
    for column in ("notebook", "code", "data", "model", "due"):
        table.add_column(column)
    for s in statuses:
        if not s.tags_models:
            data, model = "—", "— (no model: tags)"
        else:
            data = (
                "changed: " + ", ".join(d["path"] for d in s.data_changed) if s.data_changed
                else f"unchanged ({s.data_files} file{'s' if s.data_files != 1 else ''})"
            )
            model = (
                "none in production" if s.production is None
                else f"{s.production} ({s.trained_by})"
            )
        table.add_row(s.notebook, s.code, data, model, "; ".join(s.due) or "nothing")
    console.print(table)
