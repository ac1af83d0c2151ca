"""The hub's domain: the device registry and its twins (``registry``, ``twins``), the seeded fleet and the simulated
devices (``fleet``, ``simulator``, ``temperature_controller``), direct methods, digital twins, cloud-to-device
queues, bulk registry operations and configurations."""
