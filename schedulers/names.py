"""How a driver maps a Dokku name onto its platform's naming rule."""

from __future__ import annotations

import hashlib
import re

#: Dokku's app names (``^[a-z0-9][a-z0-9.-]*$``) can hold dots and start with a digit; a
#: platform name may not (a Kubernetes Service name is a DNS-1035 label).
_PLATFORM_SUFFIX = re.compile(r"-x[0-9a-f]{10}$")


def platform_name(name: str, valid: re.Pattern[str], max_len: int = 63) -> str:
    """The one way every driver maps a Dokku name onto its platform's naming rule (pure).

    - A name that already matches ``valid``, fits ``max_len`` and does not end like a mapped
      name (``-x`` and 10 hex digits) is used unchanged, so existing objects keep their names.
    - Any other name becomes: lower-cased, each character outside ``[a-z0-9-]`` replaced by
      ``-``, an ``a`` put in front if it does not start with a letter, cut so the result fits,
      then ``-x`` + the first 10 hex digits of SHA-256 of the *original* name.

    The two sets never meet (unchanged names cannot end in the suffix; mapped ones always
    do), and two mapped names are equal only if their originals share a 40-bit SHA-256
    prefix, so ``a.b`` and ``a-b`` stay apart. ``valid`` must accept ``[a-z][a-z0-9-]*[a-z0-9]``.
    """
    if len(name) <= max_len and valid.fullmatch(name) and not _PLATFORM_SUFFIX.search(name):
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    base = re.sub(r"[^a-z0-9-]", "-", name.lower())
    if not base[:1].isalpha():
        base = "a" + base
    base = base[: max_len - 12].rstrip("-")
    return f"{base}-x{digest}"
