"""Every value is either refused or yields a config the real ``nginx -t`` accepts (issue 10, obs. 3).

Generated app names, domains, port-map entries, listener addresses, nginx properties (the
values handed to templates as variables) and free, env-like text go in through the commands
a user types; whatever those accept is built with the real nginx binary, together with every
app built before it, and the result must pass ``nginx -t``. A refusal is fine (one line,
exit 1 or 2); an nginx rejection is a bug: some value reached a directive unquoted.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockyard.core.models import Listener
from tests.fixtures.cli import need_binary

pytestmark = [pytest.mark.nginx]

#: the characters that break out of an nginx token or get expanded inside one
HOSTILE = "$;{}\"'\\#` \t\n\r\x00\x7f/.:-_*[]()éß€"
hostile_text = st.text(alphabet=st.sampled_from(HOSTILE) | st.characters(codec="utf-8", exclude_categories=("Cs",)),
                       min_size=1, max_size=24)
label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
app_names = st.one_of(label, st.from_regex(r"[a-z][a-z0-9.-]{0,20}", fullmatch=True), hostile_text)
domains = st.one_of(st.lists(label, min_size=1, max_size=4).map(".".join),
                    st.lists(label, min_size=2, max_size=3).map(lambda parts: "*." + ".".join(parts)),
                    hostile_text)
process_types = st.one_of(st.sampled_from(["web", "api", "worker-q"]), hostile_text)
port_entries = st.one_of(
    st.tuples(st.sampled_from(["http", "https", "grpc", "grpcs", "tcp", "udp", "ftp", "HTTP"]),
              st.integers(-1, 70000), st.integers(-1, 70000), st.none() | process_types).map(
        lambda t: f"{t[0]}:{t[1]}:{t[2]}" + (f":{t[3]}" if t[3] is not None else "")),
    hostile_text,
)
def _dns_name(text: str) -> bool:
    from dockyard.core.errors import ValidationError
    from dockyard.core.names import validate_dns_name

    try:
        validate_dns_name(text)
    except ValidationError:
        return False
    return True


#: listener hosts come from the scheduler: addresses, or text the renderer must refuse (a DNS
#: name, a Kubernetes Service, is resolved by nginx when it loads, so none is generated here)
hosts = st.one_of(st.ip_addresses().map(str), hostile_text.filter(lambda h: not _dns_name(h)))
listeners = st.dictionaries(process_types, st.lists(st.tuples(hosts, st.integers(-1, 70000)), max_size=3),
                            max_size=3)
#: per property, plausible values (some out of range) and hostile ones
PROPERTY_VALUES: dict[str, Any] = {
    "client-max-body-size": st.from_regex(r"[0-9]{1,10}[kKmMgGx]?", fullmatch=True),
    "proxy-read-timeout": st.from_regex(r"[0-9]{1,10}(ms|s|m|h|d|w|M|y|q)?", fullmatch=True),
    "hsts-max-age": st.integers(-5, 10**12).map(str),
    "hsts": st.sampled_from(["true", "false", "yes"]),
    "hsts-include-subdomains": st.sampled_from(["true", "false"]),
    "hsts-preload": st.sampled_from(["true", "false"]),
    "bind-address-ipv4": st.ip_addresses(v=4).map(str),
    "bind-address-ipv6": st.ip_addresses(v=6).map(str),
    "x-forwarded-for-value": st.sampled_from(["$remote_addr", "$http_x_real_ip", "$nosuch", "$", "a$b", "$http_"]),
    "x-forwarded-port-value": st.from_regex(r"[A-Za-z0-9_.:,/+-]{1,12}", fullmatch=True),
    "x-forwarded-proto-value": st.sampled_from(["$scheme", "https", "$https"]),
    "x-forwarded-ssl": st.sampled_from(["on", "off", "maybe"]),
    "access-log-path": st.sampled_from(["{logs}/a.log", "{logs}/x$host.log", "{logs}/a b.log", "off",
                                        "{logs}/a;b.log", "{logs}/é.log", "relative.log"]),
}
props = st.sets(st.sampled_from(sorted(PROPERTY_VALUES)), max_size=4).flatmap(
    lambda chosen: st.fixed_dictionaries({k: st.one_of(PROPERTY_VALUES[k], hostile_text) for k in sorted(chosen)}))
#: a user template (Dokku style) that puts every variable where nginx reads it, quoted
USER_TEMPLATE = """{% extends "dockyard/app.conf.j2" %}
{% block http %}{{ super() }}
# {{ APP }} {{ PROXY_PORT_MAP }} {{ NOSSL_SERVER_NAME }} {{ DOKKU_APP_WEB_LISTENERS }}
server {
  listen 127.0.0.1:{{ PROXY_PORT or 1 }};
  server_name {{ ("fuzz-" ~ APP)|q }} {{ domains|map("q")|join(" ") }};
  access_log {{ NGINX_ACCESS_LOG_PATH }};
  client_max_body_size {{ CLIENT_MAX_BODY_SIZE|q }};
  location / { add_header X-App {{ APP|q }}; return 200 {{ PROXY_UPSTREAM_PORTS|q }}; }
}
{% endblock %}
"""


def refused(result: Any) -> bool:
    """A command's refusal: exit 1 (one error line) or 2 (usage)."""
    assert result.exit_code in (0, 1, 2), result
    if result.exit_code == 1:
        errors = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("----->")]
        assert len(errors) == 1 and errors[0].startswith("error: "), result.stderr
    return result.exit_code != 0


@pytest.fixture
def nginx_env(run: Any, dockyard_root: Path) -> dict[str, Any]:
    binary = need_binary("nginx")
    assert run("nginx:set", "--global", "binary", binary).exit_code == 0
    logs = dockyard_root / "fuzz-logs"
    logs.mkdir()
    template = dockyard_root / "user.conf.j2"
    template.write_text(USER_TEMPLATE)
    return {"logs": str(logs), "template": str(template), "root": dockyard_root}


@settings(max_examples=50, deadline=None, database=None, derandomize=False,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much, HealthCheck.data_too_large])
@given(app=app_names, names=st.lists(domains, max_size=3), entries=st.lists(port_entries, min_size=1, max_size=3),
       procs=listeners, values=props, user_template=st.booleans())
def test_every_value_is_refused_or_passes_nginx_t(run: Any, file_store: Any, nginx_env: dict[str, Any], app: str,
                                                   names: list[str], entries: list[str],
                                                   procs: dict[str, list[tuple[str, int]]],
                                                   values: dict[str, str], user_template: bool) -> None:
    from dockyard.proxy.nginx import NginxProxy

    created = run("apps:create", app)
    if created.exit_code != 0 and "already exists" not in created.stderr:
        assert refused(created)
        return
    refused(run("ports:set", app, *entries))
    refused(run("domains:set", app, *names))
    for key, value in values.items():
        refused(run("nginx:set", app, key, value.replace("{logs}", nginx_env["logs"])))
    refused(run("nginx:set", app, "template-path", nginx_env["template"] if user_template else ""))

    given_listeners = {proc: [Listener(host, port) for host, port in ls] for proc, ls in procs.items()}
    from dockyard.core.routing import build

    result = build(NginxProxy(file_store), file_store, {app: given_listeners})[0]
    # refused by Dockyard (one line, before nginx saw it) is fine; rejected by nginx is not
    assert result.ok or "[emerg]" not in result.message, result.message
    if not result.ok:
        assert "\n" not in result.message, result.message
    checked = run("nginx:validate-config")
    assert checked.exit_code == 0, checked.stderr
    for conf in (nginx_env["root"] / "nginx" / "http").glob("*.conf"):
        for path in re.findall(r'access_log "([^"]*)"', conf.read_text()):
            assert "$" not in path  # nginx would expand it per request (observation 3)


def test_a_dollar_in_a_scope_never_reaches_nginx() -> None:
    """The reproduction: an app named ``x$host`` (an import the store once let in) in a log path."""
    from dockyard.core.errors import ValidationError
    from dockyard.proxy.base import AppRoutes
    from dockyard.proxy.nginx.render import Hsts, NginxValues, build_context
    from dockyard.proxy.nginx.validate import quote

    with pytest.raises(ValidationError, match="expand"):
        quote("/var/log/nginx/x$host-access.log")
    assert quote("$remote_addr", variable=True) == '"$remote_addr"'
    with pytest.raises(ValidationError):
        quote("x$remote_addr", variable=True)
    values = NginxValues(access_log=quote("/var/log/a.log"), error_log=quote("/var/log/e.log"),
                         client_max_body_size="1m", proxy_read_timeout="60s", bind_address_ipv4="",
                         bind_address_ipv6="::", x_forwarded_for=quote("$remote_addr", variable=True),
                         x_forwarded_port=quote("$server_port", variable=True),
                         x_forwarded_proto=quote("$scheme", variable=True), x_forwarded_ssl="",
                         http2_directive=False)
    routes = AppRoutes("x$host", {}, (), ())
    with pytest.raises(ValidationError, match="inject"):
        build_context(routes, values, Hsts.build(True, 1, True, False), "/tls/x")
