"""The sandbox's Azure Resource Manager: role definitions and role assignments (``Microsoft.Authorization``) and the
IoT hub resource (``Microsoft.Devices/IotHubs``), views over the shared RBAC store (``kit.sandbox.rbac``) and the
hub's settings.

Served at ``{sandbox}/arm`` (``arm_endpoint`` in ``connection.json``), the ``base_url`` the management SDKs take in
place of ``https://management.azure.com``. A role assignment made here is the one the hub's data plane reads, once
it has propagated. ``side`` wires it into the server.
"""
