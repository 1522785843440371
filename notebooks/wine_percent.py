# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     notebook_metadata_filter: kernelspec,jupytext,-all
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Wine cultivars: logistic regression
#
# A jupytext percent-format notebook. Some cells are tagged in the cell header
# (`# %% tags=[...]`), others with `#|` comment directives for editors without a tag UI.

# %% tags=["imports"]
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

# %% tags=["parameters"]
C = 0.5
max_iter = 1000
test_size = 0.3
random_state = 7

# %%
#| step: load
X, y = load_wine(return_X_y=True, as_frame=True)

# %%
#| skip
print(X.shape)
y.value_counts().sort_index()

# %% tags=["step:split"]
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=test_size, random_state=random_state, stratify=y
)

# %%
#| step: train
#| model: model
model = make_pipeline(
    StandardScaler(),
    LogisticRegression(C=C, max_iter=max_iter, random_state=random_state),
)
model.fit(X_train, y_train)

# %%
#| step: predict
#| parity: proba
#| parity: y_pred
#| inference
proba = model.predict_proba(X_test)
y_pred = proba.argmax(axis=1)

# %% tags=["step:evaluate", "metric:accuracy"]
accuracy = accuracy_score(y_test, y_pred)
print(f"accuracy = {accuracy:.4f}")
