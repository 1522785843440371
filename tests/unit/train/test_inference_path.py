"""The inference path: payload, build errors naming steps and cells, and the generated fit()/predict()."""

from __future__ import annotations

import importlib
import subprocess
import sys

import numpy as np
import pytest

from nb2prod.analyse.planner import analyse
from nb2prod.errors import AnalysisError, TagError
from nb2prod.generate.codegen import generate_source
from nb2prod.read.notebook import load_notebook
from tests.nbfactory import write_notebook

IMPORTS = (
    "import numpy as np\nfrom sklearn.linear_model import Ridge\n"
    "from sklearn.preprocessing import StandardScaler\nfrom sklearn.metrics import r2_score",
    ["imports"],
)
DATA = ("rng = np.random.default_rng(0)\nX = rng.normal(size=(40, 3))\ny = X @ [1.0, -2.0, 0.5]\n"
        "X_train, X_test, y_train, y_test = X[:30], X[30:], y[:30], y[30:]", ["step:load"])


def plan_of(tmp_path, cells, name="nb.ipynb"):
    return analyse(load_notebook(write_notebook(tmp_path, cells, name=name), root=tmp_path))


def test_payload_is_the_inference_inputs_that_are_neither_models_nor_parameters(tmp_path):
    plan = plan_of(tmp_path, [
        IMPORTS,
        ("alpha = 1.0\nthreshold = 0.0", ["parameters"]),
        DATA,
        ("model = Ridge(alpha=alpha).fit(X_train, y_train)", ["step:train", "model:model"]),
        ("y_pred = model.predict(X_test)\nabove = y_pred > threshold", ["step:predict", "inference",
                                                                          "parity:y_pred", "keep"]),
        ("r2 = r2_score(y_test, y_pred)", ["step:evaluate", "metric:r2"]),
    ])  # `keep`: `above` feeds no target, and the slice would drop it (and threshold with it)
    inference = plan.inference
    assert inference is not None
    assert inference.steps == ("predict",)
    assert inference.payload == ("X_test",)
    assert inference.models == ("model",) and inference.parameters == ("threshold",)
    assert inference.outputs == ("y_pred",)
    (metric,) = inference.metric_functions
    assert (metric.function, metric.truth, metric.prediction) == ("sklearn.metrics.r2_score", "y_test", "y_pred")
    assert [s.function for s in plan.steps if s.name == "predict"] == ["predict_step"]  # predict() is taken


def test_a_payload_computed_with_a_model_in_a_training_step_is_an_error_naming_the_call(tmp_path):
    with pytest.raises(AnalysisError) as err:
        plan_of(tmp_path, [
            IMPORTS,
            DATA,
            ("scaler = StandardScaler().fit(X_train)", ["step:scale", "model:scaler"]),
            ("X_train_scaled = scaler.transform(X_train)\nX_test_scaled = scaler.transform(X_test)",
             ["step:features"]),
            ("model = Ridge().fit(X_train_scaled, y_train)", ["step:train", "model:model"]),
            ("y_pred = model.predict(X_test_scaled)", ["step:predict", "inference", "parity:y_pred"]),
        ])
    message = str(err.value)
    assert "nb.ipynb, cell 5" in message
    assert "X_test_scaled comes from step 'features' through `scaler.transform` (cell 3, line 2)" in message
    assert "move that line into the inference step" in message


def test_an_untagged_fitted_object_read_by_an_inference_step_is_an_error(tmp_path):
    with pytest.raises(AnalysisError, match=r"which step 'scale' fits \(`StandardScaler\(\).fit`, cell 2.*"
                                            r"tag cell 2 'model:scaler'"):
        plan_of(tmp_path, [
            IMPORTS,
            DATA,
            ("scaler = StandardScaler().fit(X_train)", ["step:scale"]),
            ("model = Ridge().fit(scaler.transform(X_train), y_train)", ["step:train", "model:model"]),
            ("y_pred = model.predict(scaler.transform(X_test))", ["step:predict", "inference", "parity:y_pred"]),
        ])


def test_inference_without_any_model_tag_is_an_error(tmp_path):
    with pytest.raises(TagError, match=r"cell 3: step 'predict' is tagged 'inference', but no cell tags"):
        plan_of(tmp_path, [
            IMPORTS,
            DATA,
            ("model = Ridge().fit(X_train, y_train)", ["step:train"]),
            ("y_pred = model.predict(X_test)", ["step:predict", "inference", "parity:y_pred"]),
        ])


def test_a_model_no_inference_step_uses_is_a_warning(tmp_path):
    plan = plan_of(tmp_path, [
        IMPORTS,
        DATA,
        ("scaler = StandardScaler().fit(X_train)", ["step:scale", "model:scaler"]),
        ("model = Ridge().fit(X_train, y_train)", ["step:train", "model:model"]),
        ("y_pred = model.predict(X_test)", ["step:predict", "inference", "parity:y_pred"]),
    ])
    assert plan.inference is not None and plan.inference.models == ("model",)
    assert any("'model:scaler' is saved, but no inference step reads 'scaler'" in w for w in plan.warnings)


def test_fitting_inside_an_inference_step_is_an_error(tmp_path):
    with pytest.raises(AnalysisError, match="model 'model' is fitted in inference step 'train'"):
        plan_of(tmp_path, [
            IMPORTS,
            DATA,
            ("model = Ridge().fit(X_train, y_train)\ny_pred = model.predict(X_test)",
             ["step:train", "model:model", "inference", "parity:y_pred"]),
        ])


def test_inference_on_a_cell_outside_any_step_is_an_error(tmp_path):
    with pytest.raises(TagError, match="cell 1: the cell is tagged 'inference' but is not part of a step"):
        plan_of(tmp_path, [IMPORTS, ("x = 1", ["inference"]), ("y = 2", ["step:a", "parity:y"])])


def test_a_notebook_without_model_tags_generates_exactly_what_it_did(tmp_path):
    plan = plan_of(tmp_path, [IMPORTS, DATA, ("model = Ridge().fit(X_train, y_train)\n"
                                              "y_pred = model.predict(X_test)", ["step:train", "parity:y_pred"])])
    source = generate_source(plan)
    assert "def fit(" not in source and "def predict(" not in source and plan.inference is None


def test_generated_fit_and_predict_run_and_never_import_nb2prod(tmp_path):
    cells = [
        IMPORTS,
        ("alpha = 0.5", ["parameters"]),
        DATA,
        ("model = Ridge(alpha=alpha).fit(X_train, y_train)", ["step:train", "model:model"]),
        ("y_pred = model.predict(X_test)", ["step:predict", "inference", "parity:y_pred"]),
        ("r2 = r2_score(y_test, y_pred)", ["step:evaluate", "metric:r2"]),
    ]
    write_notebook(tmp_path, cells, name="ridge_serving.ipynb")
    out = tmp_path / "gen_serving"
    result = subprocess.run([sys.executable, "-m", "nb2prod", "build", str(tmp_path / "ridge_serving.ipynb"),
                             "--out", str(out)], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        module = importlib.import_module("gen_serving.ridge_serving.v1.pipeline")
        trained = module.fit(alpha=0.25)
        assert set(trained) == {"models", "metrics", "payload", "targets"}
        assert trained["metrics"]["r2"] == pytest.approx(module.run(alpha=0.25)["r2"])
        assert trained["payload"]["X_test"].shape == (10, 3)
        served = module.predict(trained["models"], X_test=trained["payload"]["X_test"])
        np.testing.assert_array_equal(served["y_pred"], trained["targets"]["y_pred"])
        with pytest.raises(TypeError, match="fit\\(\\) got unknown parameter\\(s\\) beta"):
            module.fit(beta=1)
    finally:
        sys.path.remove(str(tmp_path))
    text = (out / "ridge_serving" / "v1" / "pipeline.py").read_text()
    assert "nb2prod" not in "".join(line for line in text.splitlines() if line.startswith(("import", "from")))


def test_model_and_inference_tags_parse_from_metadata_and_directive_lines():
    from nb2prod.read.tags import parse_tags, split_directive_lines

    tags = parse_tags(["step:train", "model:scaler", "model:model"], path="x.ipynb", cell=3)
    assert tags.models == ("scaler", "model") and not tags.inference
    lines, _ = split_directive_lines("#| step: predict\n#| inference\ny = model.predict(X)")
    assert parse_tags(lines, path="x.py", cell=4).inference is True
    with pytest.raises(TagError, match="tag 'model:' needs a name"):
        parse_tags(["model:"], path="x.ipynb", cell=1)
    with pytest.raises(TagError, match="'inference' marks a step's cell"):
        parse_tags(["skip", "inference"], path="x.ipynb", cell=2)


def test_parameters_an_inference_step_reads_become_keyword_defaults_of_predict(tmp_path):
    import inspect

    plan = plan_of(tmp_path, [
        IMPORTS,
        ("threshold = 0.5", ["parameters"]),
        DATA,
        ("model = Ridge().fit(X_train, y_train)", ["step:train", "model:model"]),
        ("flag = model.predict(X_test) > threshold", ["step:predict", "inference", "parity:flag"]),
    ], name="thresholds.ipynb")
    namespace: dict = {}
    exec(compile(generate_source(plan), "pipeline.py", "exec"), namespace)  # noqa: S102 - our own code
    signature = inspect.signature(namespace["predict"])
    assert list(signature.parameters) == ["models", "X_test", "threshold"]
    assert signature.parameters["threshold"].default == 0.5
    trained = namespace["fit"](threshold=0.0)
    served = namespace["predict"](trained["models"], X_test=trained["payload"]["X_test"], threshold=0.0)
    np.testing.assert_array_equal(served["flag"], trained["targets"]["flag"])
