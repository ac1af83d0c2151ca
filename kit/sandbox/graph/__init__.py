"""The sandbox's Microsoft Graph: a v1.0 subset for app registrations, a view over the identity side's directory.

Served at ``{sandbox}/graph/v1.0/...`` (``graph_endpoint`` in ``connection.json`` stands where
``https://graph.microsoft.com`` would), so a Graph call written for Azure runs here with only the endpoint changed.
An app created here signs in at the token endpoint once its service principal exists, as in Entra ID. ``side``
wires it into the server.
"""
