"""``jupyter nbconvert --to script`` output is read back into the notebook's cells."""

from __future__ import annotations

from nb2prod.read.notebook import load_notebook, read_notebook_node
from nb2prod.read.scripts import unwrap_cell_magic

EXPORTED = '''#!/usr/bin/env python
# coding: utf-8

# # Wine baseline
#~
# Exported from Kaggle.

# In[1]:


import math
get_ipython().run_line_magic('matplotlib', 'inline')


# ## Load

# In[2]:


def load():
    return [1.0, 2.0]


data = load()
# keep the raw copy


# ## Fit
#~
# Two lines of prose.

# In[3]:


get_ipython().run_cell_magic('time', '', "total = sum(data)\\nscale = math.sqrt(total)\\n")


# In[ ]:




'''.replace("#~", "# ")  # nbconvert writes `# ` for a blank Markdown line


def test_each_in_marker_opens_a_code_cell_and_comment_blocks_are_markdown(tmp_path):
    path = tmp_path / "wine.py"
    path.write_text(EXPORTED)
    node = read_notebook_node(path)
    assert [(c.cell_type, c.source) for c in node.cells] == [
        ("markdown", "# Wine baseline\n\nExported from Kaggle."),
        ("code", "import math\nget_ipython().run_line_magic('matplotlib', 'inline')"),
        ("markdown", "## Load"),
        ("code", "def load():\n    return [1.0, 2.0]\n\n\ndata = load()\n# keep the raw copy"),
        ("markdown", "## Fit\n\nTwo lines of prose."),
        ("code", "%%time\ntotal = sum(data)\nscale = math.sqrt(total)"),
    ]
    nb = load_notebook(path, root=tmp_path)
    assert not nb.plain_script
    assert [(h.cell, h.level, h.text) for h in nb.headings] == [
        (0, 1, "Wine baseline"), (2, 2, "Load"), (4, 2, "Fit"),
    ]
    assert not any("In[" in c.source or "coding" in c.source for c in nb.cells)


def test_only_a_whole_cell_run_cell_magic_with_literal_arguments_is_unwrapped():
    assert unwrap_cell_magic("get_ipython().run_cell_magic('capture', 'out', 'x = 1\\n')") == (
        "%%capture out\nx = 1"
    )
    assert unwrap_cell_magic("get_ipython().run_cell_magic('bash', '', 'ls\\n')") == "%%bash\nls"
    for code in ("y = 2\nget_ipython().run_cell_magic('time', '', 'x = 1')",
                 "get_ipython().run_cell_magic('time', '', body)"):
        assert unwrap_cell_magic(code) == code


def test_a_script_without_in_markers_is_still_one_plain_cell(tmp_path):
    path = tmp_path / "train.py"
    path.write_text("#!/usr/bin/env python\n# In the beginning\nx = 1\n")
    nb = load_notebook(path, root=tmp_path)
    assert nb.plain_script and len(nb.cells) == 1
