"""Property stores: the contract in ``base``, drivers beside it, the export format in ``export``."""
