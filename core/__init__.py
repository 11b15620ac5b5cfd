"""Cross-cutting pieces every layer shares: the error hierarchy and settings."""
