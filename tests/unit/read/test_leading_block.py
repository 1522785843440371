"""Reading what inference needs: directives anywhere in a cell's leading comment block (a late one
is a warning), headings of every kind, and plain scripts with no cell markers."""

from __future__ import annotations

import pytest

from nb2prod.errors import NotebookError
from nb2prod.read.headings import Heading, code_headings, markdown_headings
from nb2prod.read.notebook import load_notebook
from nb2prod.read.tags import late_directives, split_directive_lines
from tests.nbfactory import write_notebook


def test_directives_are_read_below_prose_comments_and_magics():
    source = "%%time\n# Fit the model\n#\n# (sphinx-gallery prose)\n#| step: train\n#| parity: y\ny = 1\n"
    tags, code = split_directive_lines(source)
    assert tags == ["step:train", "parity:y"]
    assert code.splitlines()[4:6] == ["", ""] and code.splitlines()[6] == "y = 1"  # lines kept


def test_a_directive_after_code_is_not_read_but_found():
    tags, code = split_directive_lines("x = 1\n#| skip\n#| label: fig-a\n")
    assert tags == [] and late_directives(code) == [(2, "#| skip")]  # Quarto's own keys are not ours


def test_a_late_directive_is_a_build_warning_naming_cell_and_line(tmp_path):
    path = write_notebook(tmp_path, [("a = 1", ["step:s"]), "b = a\n#| parity: b"])
    nb = load_notebook(path, root=tmp_path)
    assert nb.cells[1].tags.parity == ()
    assert nb.warnings == (
        "nb.ipynb, cell 1, line 2: `#| parity: b` comes after code, so it is not read; move it "
        "into the comment lines at the top of the cell.",
    )


def test_markdown_headings_of_every_kind_and_none_in_fenced_code():
    text = "# Title\n\nSub\n---\n```\n# not a heading\n```\n<h3>Third *part*</h3>\n## [Link](x) `code`\n"
    assert markdown_headings(4, text) == [
        Heading(4, 1, "Title"), Heading(4, 2, "Sub"), Heading(4, 3, "Third part"), Heading(4, 2, "Link code"),
    ]


def test_code_cells_give_titles_rest_headings_and_docstring_headings():
    assert code_headings(2, "x = 1", "Load data") == [Heading(2, 2, "Load data")]
    rest = "# Fit a model\n# ------------\n#\n# prose\nx = 1\n# Not\n# ---\n"
    assert code_headings(3, rest, None) == [Heading(3, 2, "Fit a model")]
    assert code_headings(0, '"""\nWine\n====\n\nText.\n"""', None) == [Heading(0, 1, "Wine")]
    assert code_headings(1, "# just a comment\nx = 1", None) == []


def test_a_plain_script_is_one_cell(tmp_path):
    path = tmp_path / "train.py"
    path.write_text('"""Train."""\nimport math\n\nx = math.pi\n')
    nb = load_notebook(path, root=tmp_path)
    assert nb.plain_script and len(nb.cells) == 1 and nb.cells[0].source.endswith("x = math.pi")


def test_a_plain_script_that_does_not_parse_is_refused_with_its_line(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("x = (1,\n")
    with pytest.raises(NotebookError, match=r"the script does not parse as Python: .* \(line 1\)"):
        load_notebook(path, root=tmp_path)


def test_a_plain_scripts_main_guard_is_a_warning(tmp_path):
    path = tmp_path / "job.py"
    path.write_text("def main():\n    return 1\n\n\nif __name__ == '__main__':\n    main()\n")
    (warning,) = load_notebook(path, root=tmp_path).warnings
    assert warning.startswith("job.py, cell 0, line 5: `if __name__ == \"__main__\":` is false inside")
