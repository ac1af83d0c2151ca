"""The sandbox's hub side: behaves like IoT Hub's data-plane REST API (api-version 2021-04-12).

The package itself imports nothing, so a module of it (``security.permissions``, which ``kit.explain`` reads) loads
alone, without the server, AMQP or the query grammar. Its parts, by role:

* ``side``: wiring into the server (``start``) and the one ordered route table (``route_table``);
* ``context``: ``HubContext``, the typed context every hub function takes (registry, realism, throttle, query
  sources, auth state, plus what all sides share);
* ``routes/``: one module per REST area (devices, twins, query, statistics, messages, methods, jobs,
  configurations, digital twins), thin handlers over the domain;
* ``transport/``: ``http`` (``hub_route``: api-version, authentication, permission, throttle, error envelope),
  ``errors`` (``HubError`` and the envelope), ``amqp`` (cloud-to-device listener on 5671);
* ``security/``: ``auth`` (Entra tokens and SAS), ``sas`` (shared access policies), ``permissions`` (the data
  action or SAS right of every operation); role assignments are the shared ``kit.sandbox.rbac``;
* ``devices/``: the domain: ``registry`` (devices, modules, twins in SQLite; it tells listeners of every desired
  change), ``twins`` (document rules), ``fleet``, ``simulator``, ``methods``, ``digital_twins``, ``c2d``, ``bulk``,
  ``configurations``;
* ``jobs/``: scheduled jobs (``scheduler``), import/export (``import_export``), their table (``store``);
* ``limits/``: realism knobs, tier and units, throttles, query lag;
* ``query/``: the IoT Hub query language (grammar, compiler, SQL plans);
* ``admin``: the hub's admin commands of ``python -m kit.sandbox``.

Adding an endpoint:

1. Permission: add ``(METHOD, path template)`` to ``OPERATIONS`` in ``security/permissions.py`` with its data
   action(s) and SAS rights (``hub_route`` refuses to build a route without one); if it is throttled, give it an
   operation class in ``limits/throttling.py``.
2. Route: write the handler in the ``routes/`` module of its area (a new area: a new module with
   ``routes(ctx, ...)``), returning ``hub_route(ctx, METHOD, path, handler)``; the domain work goes in ``devices/``
   or ``jobs/``, not in the handler.
3. Order: list the module's routes in ``side.route_table`` (Starlette takes the first match, so a fixed path such
   as ``/devices/query`` comes before ``/devices/{device_id}``).
4. Error: raise ``HubError(status, code, message)`` (``transport/errors.py``); a new code needs its number in
   ``ERROR_NUMBERS`` and an entry in ``kit/explain.py`` (``python -m kit.explain --markdown`` regenerates
   docs/troubleshooting.md; ``tests/test_explain.py`` checks both).
5. Test: drive it with the real ``azure-iot-hub`` client (or raw HTTPS for what the SDK cannot send) in
   ``tests/sandbox/hub/<area>/``, mirroring the module, and add a row to docs/parity.md.
"""
