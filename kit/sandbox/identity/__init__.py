"""The sandbox's identity side: behaves like Microsoft Entra ID's v2.0 endpoints for a backend service.

``side`` wires it into the server (``setup`` and ``routes``). The package itself imports nothing, so a module of it
(``keys``, which ``kit.certificates`` uses) loads alone, without the server or the other side.
"""
