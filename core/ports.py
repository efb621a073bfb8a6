"""The port map: ``scheme:host-port:container-port[:process-type]`` entries.

Stored as a list property ``ports/<app>/map`` (Dokku 0.31+'s ``ports`` plugin). With no
entries, the default is ``http:80:PORT`` for web, as in Dokku.
"""

from __future__ import annotations

from collections.abc import Iterable

from dockyard.core.errors import ValidationError
from dockyard.core.models import DEFAULT_WEB_PORT, PortMapping
from dockyard.propstores.base import PropertyStore

PLUGIN = "ports"
KEY = "map"
SCHEMES = ("http", "https", "grpc", "grpcs", "tcp", "udp")
HTTP_SCHEMES = ("http", "https", "grpc", "grpcs")
#: one lock for every port-map change on the store: the conflict check reads every app's map,
#: so two apps checking at once could each see the port free (issue 8's 8-app race)
PORTS_LOCK = "ports"


def _port(text: str, what: str, entry: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise ValidationError(f"invalid port mapping {entry!r}: {what} {text!r} is not a number")
    value = int(text)
    if not 1 <= value <= 65535:
        raise ValidationError(f"invalid port mapping {entry!r}: {what} {value} is outside 1-65535")
    return value


def parse_mapping(entry: str) -> PortMapping:
    from dockyard.core.names import validate_component

    parts = entry.strip().split(":")
    if len(parts) not in (3, 4):
        raise ValidationError(
            f"invalid port mapping {entry!r}: expected scheme:host-port:container-port[:process-type]"
        )
    scheme = parts[0].lower()
    if scheme not in SCHEMES:
        raise ValidationError(f"invalid port mapping {entry!r}: scheme must be one of {', '.join(SCHEMES)}")
    proc = parts[3] if len(parts) == 4 else "web"
    if not proc or not all(ch.isalnum() or ch in "-_" for ch in proc):
        raise ValidationError(f"invalid port mapping {entry!r}: bad process type {proc!r}")
    validate_component("process type", proc)
    return PortMapping(scheme, _port(parts[1], "host port", entry), _port(parts[2], "container port", entry), proc)


def parse_mappings(entries: Iterable[str]) -> list[PortMapping]:
    return [parse_mapping(e) for e in entries if e.strip()]


def web_port(store: PropertyStore, app: str) -> int:
    """The PORT web containers listen on: the app's PORT config var, else 5000."""
    value = store.get("config", app, "PORT")
    if value and (value.isascii() and value.isdigit()) and 1 <= int(value) <= 65535:
        return int(value)
    return DEFAULT_WEB_PORT


def stored_port_map(store: PropertyStore, app: str) -> list[PortMapping]:
    """The map ports:add/set wrote (Dokku's ``ports-map``); empty when none is stored."""
    return parse_mappings(store.list_get(PLUGIN, app, KEY))


def detected_port_map(store: PropertyStore, app: str) -> list[PortMapping]:
    """The map that applies when none is stored (Dokku's ``ports-map-detected``)."""
    return [PortMapping("http", 80, web_port(store, app), "web")]


def read_port_map(store: PropertyStore, app: str) -> list[PortMapping]:
    """The map that routes the app: the stored one, else the detected one."""
    return stored_port_map(store, app) or detected_port_map(store, app)


# ---- writing, with conflict checks (ports:add/set/remove/clear) --------------------------
def _listen_key(entry: PortMapping) -> tuple[str, int]:
    """What nginx binds for an entry: udp and tcp sockets of the same number do not collide."""
    return ("udp" if entry.scheme == "udp" else "tcp", entry.host_port)


def check_conflicts(store: PropertyStore, app: str, entries: list[PortMapping]) -> None:
    """Refuse a map nginx could not serve.

    Within one app a host port is used once. Across apps, only name-based virtual hosting
    may share a port: both entries http-family with the same scheme. A tcp/udp port, or a
    port used with different schemes, belongs to one app.
    """
    from dockyard.core.properties import list_apps

    seen: dict[tuple[str, int], PortMapping] = {}
    for entry in entries:
        key = _listen_key(entry)
        if key in seen and seen[key] != entry:
            raise ValidationError(
                f"port mappings {seen[key]} and {entry} of app {app} both use host port {entry.host_port}"
            )
        seen[key] = entry
    for other in list_apps(store):
        if other == app:
            continue
        try:
            theirs = read_port_map(store, other)
        except ValidationError:
            continue  # a broken map elsewhere is reported where it lives
        for their in theirs:
            mine = seen.get(_listen_key(their))
            if mine is None:
                continue
            shareable = mine.scheme == their.scheme and mine.scheme in HTTP_SCHEMES
            if not shareable:
                raise ValidationError(
                    f"host port {mine.host_port} ({mine.scheme}) conflicts with app {other}'s {their}"
                )


def write_port_map(store: PropertyStore, app: str, entries: list[PortMapping]) -> list[PortMapping]:
    """Store ``entries`` (deduplicated) after checking them against every other app."""
    unique: list[PortMapping] = []
    for entry in entries:
        if entry not in unique:
            unique.append(entry)
    check_conflicts(store, app, unique)
    store.list_write(PLUGIN, app, KEY, [str(e) for e in unique])
    return unique
