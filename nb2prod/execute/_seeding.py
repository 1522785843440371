"""``--seed N`` inside the process that runs the code (kernel or pipeline): every global generator.

``random`` and ``numpy.random`` are seeded at once. PyTorch and TensorFlow/Keras are seeded where
they are imported: importing torch costs seconds, so nothing imports it for a notebook that does
not; an import hook seeds it the moment the notebook (or the pipeline, or the zygote preloading the
pipeline's imports) imports it, and one already imported is seeded now. Keras' own seeding call
also reseeds ``random`` and numpy; their states are put back, so the moment Keras is imported does
not change what the numpy stream draws next.

Standard library only, and no import of nb2prod: the kernel runs this file's text in a hidden cell.
"""

import importlib.abc
import sys


def _seed_torch(module, seed):
    module.manual_seed(seed)


def _seed_tensorflow(module, seed):
    module.random.set_seed(seed)


def _seed_keras(module, seed):
    import random

    state = random.getstate()
    numpy = sys.modules.get("numpy")
    numpy_state = numpy.random.get_state() if numpy is not None else None
    try:
        module.utils.set_random_seed(seed)
    finally:
        random.setstate(state)
        if numpy_state is not None:
            numpy.random.set_state(numpy_state)


SEEDERS = {"torch": _seed_torch, "tensorflow": _seed_tensorflow, "keras": _seed_keras}


class _SeedOnImport(importlib.abc.MetaPathFinder):
    """Wraps the loader of a framework's top-level module: seed it right after it has loaded."""

    def __init__(self, seed):
        self.seed = seed

    def find_spec(self, name, path=None, target=None):
        if name not in SEEDERS:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _SeedingLoader(spec.loader, name, self.seed)
                return spec
        return None


class _SeedingLoader(importlib.abc.Loader):
    def __init__(self, loader, name, seed):
        self.loader, self.name, self.seed = loader, name, seed

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        try:
            SEEDERS[self.name](module, self.seed)
        except Exception:  # noqa: BLE001 - an unusual build of the framework: unseeded, as before
            pass

    def __getattr__(self, attr):  # get_resource_reader, is_package, ...: the real loader's
        return getattr(self.loader, attr)


def seed_everything(seed):
    """Seed ``random`` and numpy now; torch, TensorFlow and Keras now or when imported."""
    import random

    random.seed(seed)
    try:
        import numpy
    except ImportError:
        pass
    else:
        numpy.random.seed(seed)
    for name, seeder in SEEDERS.items():
        module = sys.modules.get(name)
        if module is not None:
            try:
                seeder(module, seed)
            except Exception:  # noqa: BLE001
                pass
    if not any(isinstance(f, _SeedOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _SeedOnImport(seed))
