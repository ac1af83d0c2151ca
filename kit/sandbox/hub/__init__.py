"""The sandbox's hub side: behaves like IoT Hub's data-plane REST API (api-version 2021-04-12).

``side`` wires it into the server (``setup`` and the route table). The package itself imports nothing, so a module
of it (``permissions``, which ``kit.explain`` reads) loads alone, without the server, AMQP or the query grammar.
"""
