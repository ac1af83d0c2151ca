"""The hub's REST routes, one module per area of the data-plane API; each has ``routes(ctx, ...)`` returning
``hub_route(...)`` entries, which ``side.route_table`` lists in the order Starlette tries them."""
