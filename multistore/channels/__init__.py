"""Multi-channel inventory: allocation, conflicts, reservations, connectors and webhooks."""
