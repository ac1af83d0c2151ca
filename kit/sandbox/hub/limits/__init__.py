"""How a real hub's size shows: the realism knobs (``realism``), the tier and units (``sku``), throttles with
traffic shaping and 429 (``throttling``), and twin queries that lag writes (``query_lag``)."""
