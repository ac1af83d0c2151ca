"""Who may call the hub: the caller's identity (``auth``: Entra tokens and SAS), shared access policies and their
keys (``sas``), and the data action or SAS right each route needs (``permissions``). Role assignments themselves
live in the shared ``kit.sandbox.rbac``."""
