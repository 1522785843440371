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


def test_timing_magics_keep_their_statement_without_the_options():
    masked = mask_magics(
        "mlp = make()\n%timeit -n 1 -r 3 mlp.fit(X, y)\n%timeit -n1 -r3 -qo score(mlp)\n"
        "%time --no-raise-error m = fit(X)\n%prun -s cumulative -l 10 train()\n%memit -r 2 big()\n"
        "for i in range(3):\n    %timeit -p 4 step(i)"
    )
    assert masked.code.split("\n") == [
        "mlp = make()", "mlp.fit(X, y)", "score(mlp)", "m = fit(X)", "train()", "big()",
        "for i in range(3):", "    step(i)",
    ]
    assert masked.magic_lines == (2, 3, 4, 5, 6, 8)


def test_a_timing_magic_with_no_statement_or_an_unknown_option_is_dropped_alone():
    masked = mask_magics("%timeit -n 1\n%timeit -x f()\n  %time\ny = f()")
    assert masked.code.split("\n") == ["", "", "  pass", "y = f()"]
    assert masked.magic_lines == (1, 2, 3)


def test_assigned_time_keeps_the_value_and_timeit_setup_line_runs_first():
    assert mask_magics("x = %time f(1)").code == "x = f(1)"
    assert mask_magics("%%timeit -n 1 -r 2 data = load()\nfit(data)").code.split("\n") == [
        "data = load()", "fit(data)",
    ]
    assert mask_magics("%%timeit -r 5\nfit()").code.split("\n") == ["", "fit()"]


def test_get_ipython_calls_are_the_magics_and_shell_escapes_they_were():
    masked = mask_magics(
        "get_ipython().run_line_magic('matplotlib', 'inline')\n"
        "get_ipython().run_line_magic('timeit', '-n 2 model.fit(X, y)')\n"
        "files = get_ipython().getoutput('ls data')\n"
        "if True:\n    get_ipython().system('pip install lightgbm')\n"
        "get_ipython().magic('time y = g()')\n"
        "get_ipython().run_line_magic(name, 'dynamic')"
    )
    assert masked.code.split("\n") == [
        "", "model.fit(X, y)", "", "if True:", "    pass", "y = g()",
        "get_ipython().run_line_magic(name, 'dynamic')",  # not a literal: left as the call it is
    ]
    assert masked.shell_lines == (3, 5)
    assert masked.magic_lines == (1, 2, 6)
