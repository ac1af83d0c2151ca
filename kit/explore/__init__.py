"""Exploring a hub from a notebook: a query explorer, fleet views and a twin inspector, all on the learner's own
``IoTHubRegistryManager``.

* :func:`explorer` (:mod:`kit.explore.explorer`): write a query, run it, every page into a DataFrame;
* :mod:`kit.explore.fleet`: counts by tag and connection state, telemetry spread, drift from desired, plots;
* :func:`twin_tree` and :func:`desired_vs_reported` (:mod:`kit.explore.inspector`): one twin, readable;
* :func:`json_page` (:mod:`kit.explore.reading`): a faster page reader for ``kit.twins.query_dataframe``.
"""

from kit.explore.explorer import HISTORY, QueryExplorer, explorer, plain_code
from kit.explore.inspector import TwinTree, desired_vs_reported, twin_tree
from kit.explore.reading import QueryFailure, count_query, json_page

__all__ = ["HISTORY", "QueryExplorer", "QueryFailure", "TwinTree", "count_query", "desired_vs_reported",
           "explorer", "json_page", "plain_code", "twin_tree"]
