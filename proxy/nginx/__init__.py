"""Driver package."""
