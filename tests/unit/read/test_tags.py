"""The tag table and parser: synonyms, directives, validation, unknown tags ignored."""

from __future__ import annotations

import pytest

from nb2prod.errors import TagError
from nb2prod.read.tags import DIRECTIVES, parse_tags, split_directive_lines


def parse(*tags: str):
    return parse_tags(tags, path="nb.ipynb", cell=3)


def test_every_directive_and_synonym_is_understood():
    assert parse("parameters").parameters
    assert parse("pipeline-parameters").parameters
    assert parse("step:train").step == "train"
    assert parse("block:train").step == "train"
    assert parse("after:load").after == ("load",)
    assert parse("prev:load").after == ("load",)
    assert parse("imports").imports and parse("functions").functions and parse("skip").skip
    assert parse("parity:y_pred").parity == ("y_pred",)
    assert parse("metric:r2").metrics == ("r2",)
    assert parse("pipeline-metrics").kale_metrics


def test_the_table_lists_each_spelling_once():
    spellings = [s for d in DIRECTIVES for s in (d.name, *d.synonyms)]
    assert len(spellings) == len(set(spellings))


def test_tags_of_other_tools_are_ignored_not_errors():
    tags = parse("step:train", "NBVAL_CHECK_OUTPUT", "nbmake", "image:python:3.11", "limit:nvidia.com/gpu:1")
    assert tags.step == "train"
    assert tags.ignored == ("NBVAL_CHECK_OUTPUT", "nbmake", "image:python:3.11", "limit:nvidia.com/gpu:1")


def test_several_parity_tags_and_a_step_on_one_cell():
    tags = parse("step:predict", "parity:y_pred", "parity:proba", "metric:r2")
    assert (tags.step, tags.parity, tags.metrics) == ("predict", ("y_pred", "proba"), ("r2",))


@pytest.mark.parametrize("bad", ["step:../../etc", "step:my step", "step:2fast", "parity:y-pred", "step:class"])
def test_names_must_be_identifiers(bad):
    with pytest.raises(TagError) as err:
        parse(bad)
    assert "is not a Python identifier" in str(err.value)
    assert "nb.ipynb, cell 3" in str(err.value)


def test_step_without_name_is_an_error_with_an_example():
    with pytest.raises(TagError, match=r"needs a name.*Hint: for example 'step:train'"):
        parse("step")


def test_exclusive_roles_are_rejected():
    with pytest.raises(TagError, match="'skip' and 'step:train'"):
        parse("skip", "step:train")
    with pytest.raises(TagError, match="belongs to one step"):
        parse("step:a", "block:b")


def test_flag_tags_take_no_argument():
    with pytest.raises(TagError, match="takes no argument"):
        parse("skip:now")


def test_directive_comments_become_tags_and_keep_line_numbers():
    tags, code = split_directive_lines("#| step: train\n#| parity: y_pred\n#|skip\nx = 1\n#| not-a-header: 1")
    assert tags == ["step:train", "parity:y_pred", "skip"]
    lines = code.splitlines()
    assert lines[:3] == ["", "", ""] and lines[3] == "x = 1"
    assert lines[4] == "#| not-a-header: 1"  # only the leading block counts
