"""Data lineage: which literal paths exported code reads, and what the manifest records about them."""

from __future__ import annotations

import hashlib

import pytest

from nb2prod.analyse.lineage import data_files, find_reads, plan_reads
from nb2prod.analyse.planner import analyse
from nb2prod.read.notebook import load_notebook
from tests.nbfactory import write_notebook


def paths(code: str, **params: str) -> list[tuple[str, str]]:
    return [(r.path, r.reader) for r in find_reads(code, "step 's'", params)]


@pytest.mark.parametrize(("code", "expected"), [
    ('df = pd.read_csv("data/x.csv")', [("data/x.csv", "read_csv")]),
    ('df = pandas.read_parquet(path="d/x.parquet")', [("d/x.parquet", "read_parquet")]),
    ('df = pd.read_table(filepath_or_buffer="t.tsv", sep="\\t")', [("t.tsv", "read_table")]),
    ('df = pd.read_excel("book.xlsx", sheet_name=0)', [("book.xlsx", "read_excel")]),
    ('df = pd.read_json("rows.json", lines=True)', [("rows.json", "read_json")]),
    ('a = np.loadtxt(fname="a.txt")', [("a.txt", "loadtxt")]),
    ('a = np.genfromtxt("a.csv", delimiter=",")', [("a.csv", "genfromtxt")]),
    ('a = np.load(Path("arrays") / "a.npy")', [("arrays/a.npy", "load")]),
    ('a = np.load(Path("arrays", "a.npy"))', [("arrays/a.npy", "load")]),
    ('m = joblib.load("model.joblib")', [("model.joblib", "load")]),
    ('m = pickle.load(open("model.pkl", "rb"))', [("model.pkl", "open")]),
    ('text = open(file="notes.txt").read()', [("notes.txt", "open")]),
    ('text = Path("notes.txt").read_text()', [("notes.txt", "Path.read_text")]),
    ('with Path("raw.bin").open("rb") as fh:\n    b = fh.read()', [("raw.bin", "Path.open")]),
])
def test_literal_reads_are_found(code, expected):
    assert paths(code) == expected


@pytest.mark.parametrize("code", [
    'open("out.txt", "w").write("x")',
    'open("log.txt", mode="a")',
    'Path("out.txt").open("w")',
    'df.to_csv("out.csv")',
    'pd.read_csv(f"data/{name}.csv")',
    'pd.read_csv(some_variable)',
    'pd.read_csv(io.StringIO("a,b"))',
    'json.loads("{}")',
])
def test_writes_and_non_literal_paths_are_not_reads(code):
    assert paths(code) == []


def test_a_parameter_with_a_string_default_counts_and_says_so():
    reads = find_reads("df = pd.read_csv(source)", "step 'load'", {"source": "data/in.csv"})
    assert [(r.path, r.via) for r in reads] == [("data/in.csv", "parameter source")]


def test_reads_say_which_cell_from_the_step_marks():
    code = "# cell 4\nx = 1\n\n# cell 6\ndf = pd.read_csv('a.csv')"
    assert [r.where for r in find_reads(code, "step 'load'")] == ["step 'load', cell 6"]


def test_code_that_does_not_parse_reads_nothing():
    assert find_reads("def (:", "functions") == []


def test_plan_reads_covers_imports_functions_and_steps(tmp_path):
    nb = write_notebook(tmp_path, [
        ("import pandas as pd\nLOOKUP = open('lookup.txt').read()", ["imports"]),
        ("def load():\n    return pd.read_csv('f.csv')", ["functions"]),
        ("df = load()\nextra = pd.read_parquet('s.parquet')", ["step:load", "parity:df", "keep"]),
    ])
    reads = plan_reads(analyse(load_notebook(nb, root=tmp_path)))
    # an imports cell's definition goes to the functions part; `keep` keeps the unused `extra`
    assert [(r.path, r.where) for r in reads] == [
        ("lookup.txt", "functions"), ("f.csv", "functions"), ("s.parquet", "step 'load', cell 2")]


def test_data_files_resolve_against_the_notebook_folder(tmp_path):
    folder = tmp_path / "notebooks"
    (folder / "data" / "parts").mkdir(parents=True)
    (folder / "data" / "x.csv").write_text("a,b\n1,2\n")
    (folder / "data" / "parts" / "p1.parquet").write_bytes(b"one")
    (folder / "data" / "parts" / "p2.parquet").write_bytes(b"two")
    (folder / "data" / "g1.txt").write_text("g")
    nb = write_notebook(folder, [
        ("import pandas as pd\nimport glob", ["imports"]),
        ("df = pd.read_csv('data/x.csv')\nagain = pd.read_csv('data/x.csv')\n"
         "parts = pd.read_parquet('data/parts')\nghost = pd.read_csv('data/ghost.csv')\n"
         "g = open('data/g*.txt').read()\nweb = pd.read_csv('https://example.org/a.csv')",
         ["step:load", "parity:df", "keep"]),
    ])
    entries, warnings = data_files(analyse(load_notebook(nb, root=tmp_path)), root=tmp_path)
    by_path = {e["path"]: e for e in entries}
    assert sorted(by_path) == sorted(
        ["data/x.csv", "data/parts", "data/ghost.csv", "data/g*.txt", "https://example.org/a.csv"])
    x = by_path["data/x.csv"]
    assert x["resolved"] == "notebooks/data/x.csv" and x["size"] == 8
    assert x["sha256"] == hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    assert x["where"] == "step 'load', cell 1" and x["reader"] == "read_csv"
    assert by_path["data/parts"]["directory"] is True and by_path["data/parts"]["files"] == 2
    assert by_path["data/g*.txt"]["resolved"] == "notebooks/data/g1.txt"
    assert by_path["https://example.org/a.csv"]["remote"] is True
    ghost = by_path["data/ghost.csv"]
    assert ghost["missing"] is True and "sha256" not in ghost
    assert warnings == [
        "notebooks/nb.ipynb: step 'load', cell 1 reads 'data/ghost.csv', which does not exist "
        "(notebooks/data/ghost.csv); the manifest records it as missing."]
