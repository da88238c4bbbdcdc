"""The store network (seed 004): regions and their supply hubs, store nodes and their health,
supply requests and deliveries, machines, and demand forecasting. Prefect-free."""
