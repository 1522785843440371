"""``--export-inputs F.parquet``: the logged payloads as a data file the next training can read.

One row per predicted row, the payload's columns as the reference sample has them, then
``outcome`` (the ``/feedback`` value where one is known, else null), ``prediction`` columns, and
``request_id`` and ``logged_at`` so a notebook can join, filter or drop them. The file is written
beside its destination and renamed into place, so a half file is never read. A notebook that reads
it by a literal path (``pd.read_parquet("data/live.parquet")``) gets it into the next model card's
``data_files`` with its sha256, which is the lineage from production back to training.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from nb2prod.monitor.run import MonitorReport


def export_inputs(report: MonitorReport, path: Path) -> int:
    """Write the export; returns the number of rows."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    live = report.live
    frame = live.inputs.copy()
    outcomes = []
    for request_id, position in zip(live.keys.get("request_id", []), live.keys.get("position", []), strict=True):
        outcome = report.logs.feedback.get(request_id)
        outcomes.append(outcome[position] if outcome is not None and position < len(outcome) else None)
    frame["outcome"] = pd.Series(outcomes, dtype=object).infer_objects() if outcomes else pd.Series(dtype=float)
    for column in live.outputs.columns:
        frame[f"prediction_{column}"] = live.outputs[column].to_numpy()
    frame["request_id"] = live.keys["request_id"].to_numpy() if len(live.keys) else []
    frame["logged_at"] = pd.to_datetime(live.keys["time"], utc=True).to_numpy() if len(live.keys) else []
    table = pa.Table.from_pandas(frame, preserve_index=False)
    meta = {"name": report.name, "model_id": report.model_id, "created": report.created,
            "rows_with_outcome": int(sum(o is not None for o in outcomes))}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           b"nb2prod": json.dumps(meta).encode()})
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    try:
        pq.write_table(table, temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return len(frame)
