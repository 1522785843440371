"""Methods whose call leaves its object as it was, by library: the data behind "a call is not a change".

The analysis cannot know an object's type, so it goes by the method's name: ``model.predict(X)`` or
``df.reindex(...)`` only reads ``model`` or ``df``, while any method not listed here (``fit``,
``append``, ``sort``...) may change its object in place and makes it a step output. A call with
``inplace=True`` (pandas) changes its object whatever the method. Like the tag table, this is data:
add a method to its library's row, never a special case in the code.

A name is listed only when no common library changes the object with it: ``to`` and ``cpu`` move a
``torch.nn.Module`` in place, ``eval`` and ``train`` switch its mode, so none of them is here.
"""

from __future__ import annotations

NON_MUTATING: dict[str, frozenset[str]] = {
    "scikit-learn (fitted estimators and transformers)": frozenset({
        "predict", "predict_proba", "predict_log_proba", "decision_function", "transform",
        "inverse_transform", "score", "score_samples", "get_params", "get_feature_names_out",
        "staged_predict", "staged_predict_proba", "decision_path", "apply", "kneighbors",
    }),
    "pandas (DataFrame, Series, Index; each returns a new object unless inplace=True)": frozenset({
        "copy", "reindex", "reindex_like", "head", "tail", "describe", "info", "sum", "mean",
        "median", "mode", "std", "var", "min", "max", "count", "nunique", "value_counts", "unique",
        "groupby", "merge", "join", "drop", "dropna", "fillna", "ffill", "bfill", "interpolate",
        "rename", "reset_index", "set_index", "sort_values", "sort_index", "astype", "map",
        "query", "filter", "select_dtypes", "sample", "isna", "isnull", "notna", "notnull",
        "to_numpy", "to_dict", "to_list", "to_frame", "corr", "cov", "round", "abs", "clip",
        "replace", "where", "mask", "assign", "pivot", "pivot_table", "melt", "stack", "unstack",
        "agg", "aggregate", "shift", "diff", "pct_change", "cumsum", "cumprod", "rolling",
        "expanding", "resample", "any", "all", "idxmax", "idxmin", "nlargest", "nsmallest",
        "duplicated", "drop_duplicates", "isin", "between", "equals", "get", "items",
        "itertuples", "iterrows", "explode", "quantile", "rank", "memory_usage", "squeeze",
        "get_dummies", "pipe", "applymap", "transpose", "add_prefix", "add_suffix", "nth",
        "first", "last", "size", "to_string", "dot", "prod", "sem", "skew", "kurt", "combine_first",
        "align", "truncate", "convert_dtypes", "infer_objects", "keys",
    }),
    "pandas plotting (draws the object, leaves it as it was)": frozenset({"plot", "hist", "boxplot"}),
    "writing an object out (pandas, polars, LightGBM, XGBoost, matplotlib figures)": frozenset({
        "to_csv", "to_parquet", "to_json", "to_pickle", "to_excel", "to_feather", "to_hdf",
        "to_markdown", "to_latex", "to_html", "write_csv", "write_parquet", "write_json",
        "save_model", "dump_model", "savefig",
    }),
    "statsmodels and LightGBM results": frozenset({
        "summary", "forecast", "get_forecast", "conf_int", "feature_importance", "feature_name",
        "current_iteration", "num_trees", "get_prediction",
    }),
    "numpy (ndarray methods that return a new array or a value)": frozenset({
        "reshape", "flatten", "ravel", "tolist", "argmax", "argmin", "argsort", "nonzero", "item",
        "cumsum", "mean", "std", "sum", "trace", "conj", "view", "swapaxes", "searchsorted",
        "tobytes", "ptp",
    }),
    "torch (tensors)": frozenset({"numpy", "detach", "clone", "size", "dim", "numel", "contiguous"}),
    "Python built-ins (str, dict, list, set)": frozenset({
        "get", "values", "index", "split", "rsplit", "splitlines", "strip", "lstrip", "rstrip",
        "lower", "upper", "title", "format", "startswith", "endswith", "encode", "decode",
        "union", "intersection", "difference", "issubset", "issuperset", "zfill", "partition",
        "isdigit", "isalpha", "find", "rfind", "center", "ljust", "rjust", "casefold",
    }),
}

#: Every non-mutating method name, whatever its library (the analysis only sees the name).
NON_MUTATING_METHODS: frozenset[str] = frozenset().union(*NON_MUTATING.values())
