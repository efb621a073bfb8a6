"""Schedulers: the contract in ``base``, drivers beside it."""
