"""``--seed`` seeds torch, TensorFlow and Keras where they are imported (issue 14, item 5).

Real subprocesses; stand-in ``tensorflow`` and ``keras`` packages record the seeding calls (the real
ones are not installed here), and the torch case runs only where torch is.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nb2prod.execute import _seeding

SEEDING = Path(_seeding.__file__)


def run(code: str, path: Path) -> str:
    prelude = f"exec(open({str(SEEDING)!r}).read(), ns := {{}})\n"
    done = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], cwd=path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_tensorflow_and_keras_imported_later_are_seeded_on_import(tmp_path):
    (tmp_path / "tensorflow").mkdir()
    (tmp_path / "tensorflow" / "__init__.py").write_text(
        "import types\nseen = []\nrandom = types.SimpleNamespace(set_seed=seen.append)\n")
    (tmp_path / "keras").mkdir()
    (tmp_path / "keras" / "__init__.py").write_text(textwrap.dedent("""
        import random as _r, types
        import numpy as _np
        seen = []
        def _set(seed):  # what keras.utils.set_random_seed does: python, numpy and the backend
            seen.append(seed); _r.seed(seed); _np.random.seed(seed)
        utils = types.SimpleNamespace(set_random_seed=_set)
    """))
    out = run("""
        ns['seed_everything'](7)
        import tensorflow, keras
        print(tensorflow.seen, keras.seen)
    """, tmp_path)
    assert out.split() == ["[7]", "[7]"]


def test_numpy_stream_is_not_reset_by_a_late_keras_import(tmp_path):
    (tmp_path / "keras").mkdir()
    (tmp_path / "keras" / "__init__.py").write_text(
        "import numpy, types\nutils = types.SimpleNamespace(set_random_seed=numpy.random.seed)\n")
    out = run("""
        import numpy as np
        ns['seed_everything'](3)
        a = np.random.rand()
        import keras
        b = np.random.rand()
        np.random.seed(3)
        print(a == np.random.rand(), b == np.random.rand())
    """, tmp_path)
    assert out.split() == ["True", "True"]


def test_torch_is_seeded_when_imported_after_the_seed(tmp_path):
    pytest.importorskip("torch")
    out = run("""
        ns['seed_everything'](11)
        import torch
        a = torch.randn(2).tolist()
        torch.manual_seed(11)
        print(a == torch.randn(2).tolist())
    """, tmp_path)
    assert out.strip() == "True"
