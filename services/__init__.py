"""Use cases: load, authorize (``auth.policy``), change (pure), store. No HTTP here."""
