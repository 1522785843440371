"""Random streams outside numpy and ``random``: PyTorch and TensorFlow/Keras, as data.

Like the tag table, the rules are one table per framework: which calls seed its global generator,
which draw from it, and what to write instead. ``randomness.py`` asks :func:`framework_event` about
every call it resolves through the notebook's imports; nothing here imports torch or TensorFlow
(an import costs seconds, and the names below are stable public API).

PyTorch's CPU generator starts from the same fixed seed in every process, so unseeded torch code can
look reproducible until one side makes one more draw than the other; TensorFlow's ops draw from a
per-process seed. Both get a hint, and ``--seed N`` seeds both where they are imported
(``nb2prod.execute._seeding``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass


@dataclass(frozen=True)
class Framework:
    stream: str  # the name of its global generator in messages
    modules: tuple[str, ...]  # top-level modules whose calls belong to it
    seeds: frozenset[str]  # qualified calls that seed the global generator
    draws: frozenset[str]  # qualified functions that draw from it
    draw_prefixes: tuple[str, ...]  # every public callable under these draws (initialisers)
    layers: tuple[str, ...]  # modules whose capitalised classes draw initial weights when built
    seed_keyword: str | None  # an argument that makes one call deterministic (generator=, seed=)
    fix: str  # what to write, with {value} for the notebook's seed parameter


TORCH = Framework(
    stream="torch",
    modules=("torch",),
    seeds=frozenset({"torch.manual_seed", "torch.random.manual_seed", "torch.seed_everything"}),
    draws=frozenset(
        f"torch.{name}" for name in (
            "rand", "randn", "randint", "randperm", "rand_like", "randn_like", "randint_like",
            "normal", "bernoulli", "multinomial", "poisson", "dropout",
        )
    ) | frozenset({"torch.nn.functional.dropout", "torch.utils.data.random_split"}),
    draw_prefixes=("torch.nn.init.",),
    layers=("torch.nn",),
    seed_keyword="generator",
    fix=("call torch.manual_seed({value}) in an exported cell before it (or pass "
         "generator=torch.Generator().manual_seed({value})); --seed N also seeds torch on both sides."),
)

TENSORFLOW = Framework(
    stream="tensorflow",
    modules=("tensorflow", "keras"),
    seeds=frozenset({
        "tensorflow.random.set_seed", "tensorflow.keras.utils.set_random_seed",
        "keras.utils.set_random_seed", "tensorflow.compat.v1.set_random_seed",
    }),
    draws=frozenset(
        f"{prefix}.{name}" for prefix in ("tensorflow.random", "keras.random")
        for name in ("normal", "uniform", "truncated_normal", "shuffle", "categorical", "gamma",
                     "poisson", "randint", "dropout")
    ),
    draw_prefixes=("tensorflow.keras.initializers.", "keras.initializers."),
    layers=("tensorflow.keras.layers", "keras.layers"),
    seed_keyword="seed",
    fix=("call keras.utils.set_random_seed({value}) (or tf.random.set_seed({value})) in an exported "
         "cell before it, or pass seed={value}; --seed N also seeds TensorFlow on both sides."),
)

FRAMEWORKS = (TORCH, TENSORFLOW)
#: Layers with no weights and no randomness: building one draws nothing.
_PLAIN_LAYERS = frozenset({
    "Sequential", "ModuleList", "ModuleDict", "ReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax",
    "Flatten", "Identity", "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d",
    "MSELoss", "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss", "L1Loss",
    "MaxPooling1D", "MaxPooling2D", "AveragePooling2D", "Activation", "Input", "InputLayer",
    "Reshape", "Concatenate", "Add", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Normalization",
    "Rescaling", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "BatchNormalization", "Module",
    "Parameter", "Dropout", "AlphaDropout",  # dropout draws while training, not when built
})
#: Tensor methods that fill a tensor in place from torch's global generator.
TORCH_INPLACE_DRAWS = frozenset({
    "uniform_", "normal_", "random_", "bernoulli_", "exponential_", "geometric_", "cauchy_",
    "log_normal_",
})


def framework_of(qualified: str) -> Framework | None:
    top = qualified.split(".")[0]
    return next((f for f in FRAMEWORKS if top in f.modules), None)


def framework_event(qualified: str, node: ast.Call) -> tuple[str, Framework] | None:
    """("seed" | "draw", framework) for a call into a framework's random API, else None."""
    framework = framework_of(qualified)
    if framework is None:
        return None
    if qualified in framework.seeds:
        return "seed", framework
    if framework.seed_keyword and any(
        k.arg == framework.seed_keyword and not _none(k.value) for k in node.keywords
    ):
        return None
    if any(k.arg is None for k in node.keywords):
        return None  # **kwargs may carry the seed
    module, _, name = qualified.rpartition(".")
    if qualified in framework.draws or any(qualified.startswith(p) for p in framework.draw_prefixes):
        return "draw", framework
    if module in framework.layers and name[:1].isupper() and name not in _PLAIN_LAYERS:
        if _seeded_initializer(node, framework):
            return None
        return "draw", framework
    if qualified == "torch.utils.data.DataLoader" and _true(node, "shuffle"):
        return "draw", framework
    return None


def _seeded_initializer(node: ast.Call, framework: Framework) -> bool:
    """A Keras layer whose initialiser arguments all carry a seed (``GlorotUniform(seed=0)``)."""
    if framework is not TENSORFLOW:
        return False
    inits = [k.value for k in node.keywords if k.arg and k.arg.endswith("_initializer")]
    return bool(inits) and all(
        isinstance(v, ast.Call) and any(k.arg == "seed" and not _none(k.value) for k in v.keywords)
        for v in inits
    )


def _true(node: ast.Call, name: str) -> bool:
    return any(k.arg == name and isinstance(k.value, ast.Constant) and k.value.value is True
               for k in node.keywords)


def _none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None
