"""The README's tag table is rendered from the one tag table in nb2prod/tags.py."""

from __future__ import annotations

import re

from nb2prod.read.tags import markdown_table
from tests.conftest import ROOT


def test_readme_tag_table_matches_the_grammar():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- tag-table:.*?-->\n(.*?)\n<!-- /tag-table -->", readme, re.S)
    assert block is not None
    assert block.group(1) == markdown_table()
