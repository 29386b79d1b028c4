"""``tunesmith serve``: the toolkit as a web page with an HTTP API (an adapter beside ``cli/``).

>>> from tunesmith.web import create_app          # doctest: +SKIP
>>> app = create_app(workers=2)                    # a FastAPI app; run it with uvicorn

Modules: :mod:`~tunesmith.web.app` (routes, OpenAPI at ``/openapi.json``),
:mod:`~tunesmith.web.jobs` (worker pool, progress, job tokens, temporary folders),
:mod:`~tunesmith.web.uploads` (size limit, content sniffing),
:mod:`~tunesmith.web.service` (the library calls behind each endpoint, models loaded once),
and ``static/`` (the page: HTML, CSS, JavaScript, vendored OpenSheetMusicDisplay and onnxruntime-web).
Needs the ``web`` extra: ``pip install "tunesmith[web]"``.
"""
from __future__ import annotations

__all__ = ["create_app"]


def create_app(**kwargs):
    """The FastAPI app (see :func:`tunesmith.web.app.create_app` for the settings)."""
    from tunesmith.web.app import create_app as _create

    return _create(**kwargs)
