"""MPPI planning against goal flows (not built yet: see the planning issue)."""

__all__: list[str] = []
