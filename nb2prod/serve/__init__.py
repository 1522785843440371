"""Serving: the production model behind FastAPI on uvicorn, with a JSON-lines prediction log.

``schema`` turns the card's payload schema into pydantic validators, ``app`` is the FastAPI app,
``log`` the prediction log, ``metrics`` the Prometheus counters, ``server`` starts uvicorn, ``bundle``
writes a deployable folder and ``parity`` proves the HTTP answer equals the notebook's. Nothing here is
imported by ``nb2prod --help``: FastAPI, pydantic and pandas load only when a server starts.
"""
