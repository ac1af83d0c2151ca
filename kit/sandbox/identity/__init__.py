"""The sandbox's identity side: behaves like Microsoft Entra ID's v2.0 endpoints for a backend service.

``side`` wires it into the server (``start``: the directory, keys and routes, and the ``Directory`` it offers the
other sides as ``ctx.directory``). The package itself imports nothing, so a module of it (``keys``, which
``kit.certificates`` uses) loads alone, without the server or the other side.

Adding an AADSTS error: define it once in ``errors.py`` (code, OAuth ``error`` value, Entra's message), raise it
where the check fails, and give it a cause and a fix in ``kit/explain.py`` (``python -m kit.explain --markdown >
docs/troubleshooting.md``); ``tests/test_explain.py`` fails until every code of ``errors.py`` is explained.
"""
