"""Proxies: the contract in ``base``, drivers (nginx, null) beside it."""
