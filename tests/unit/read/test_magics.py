"""Masking IPython syntax keeps line numbers and records shell escapes."""

from __future__ import annotations

from nb2prod.read.magics import mask_magics


def test_line_magics_are_blanked_and_timing_magics_keep_their_statement():
    masked = mask_magics("%matplotlib inline\n%time model = fit(X)\nx = 1\n  %autoreload 2")
    assert masked.code.split("\n") == ["", "model = fit(X)", "x = 1", "  pass"]
    assert masked.magic_lines == (1, 2, 4)
    assert masked.shell_lines == ()


def test_shell_escapes_are_recorded_by_line():
    masked = mask_magics("x = 1\n!pip install foo\nfiles = !ls\n%pip install bar")
    assert masked.shell_lines == (2, 3, 4)
    assert masked.code.split("\n") == ["x = 1", "", "", ""]


def test_python_cell_magics_keep_the_body_and_others_are_foreign():
    assert mask_magics("%%time\ny = 2").code.split("\n") == ["", "y = 2"]
    assert mask_magics("%%bash\nls -l").foreign_magic == "%%bash"


def test_lines_inside_triple_quoted_strings_are_not_magics():
    source = 'query = """\n%not_a_magic\n!not_a_shell\n"""\n%who'
    masked = mask_magics(source)
    assert masked.code.split("\n")[:4] == source.splitlines()[:4]
    assert masked.shell_lines == ()
    assert masked.code.split("\n")[4] == ""


def test_help_syntax_is_removed():
    assert mask_magics("np.mean?\nx = 1").code.split("\n") == ["", "x = 1"]
