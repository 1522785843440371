"""The production half's first part: training jobs, model artefacts with their cards, the store.

``job`` and ``roundtrip`` run in fresh interpreters; ``store`` is the API serve and monitor use.
"""
