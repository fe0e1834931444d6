"""OCPP gateway: the only component chargers talk to (OCPP 1.6J and 2.0.1 over WebSocket)."""
