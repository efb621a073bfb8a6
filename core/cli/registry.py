"""The table of built-in commands: name -> (module:attribute, one-line help).

The CLI reads this table (and the ``dockyard.commands`` entry points) to list and resolve
commands, and imports a command's module only when that command runs.
"""

from __future__ import annotations

M = "dockyard.core.cli"

COMMANDS: dict[str, tuple[str, str]] = {
    # apps and config (core)
    "apps:create": (f"{M}.apps:create", "Create an app"),
    "apps:destroy": (f"{M}.apps:destroy", "Destroy an app, its containers and every property"),
    "apps:list": (f"{M}.apps:list_cmd", "List apps"),
    "apps:exists": (f"{M}.apps:exists", "Exit 0 if the app exists, 1 otherwise"),
    "apps:rename": (f"{M}.apps:rename", "Rename an app"),
    "apps:clone": (f"{M}.apps:clone", "Clone an app's properties to a new app"),
    "apps:report": (f"{M}.apps:report", "Report on one app or all apps"),
    "report": (f"{M}.report:report", "Every plugin's report for an app (or every app)"),
    "apps:lock": (f"{M}.apps:lock", "Refuse deploys of an app until apps:unlock"),
    "apps:unlock": (f"{M}.apps:unlock", "Remove an app's deploy lock"),
    "apps:locked": (f"{M}.apps:locked", "Exit 0 if the app is locked, 1 otherwise"),
    "apps:set": (f"{M}.apps:set_", "Set an apps property (deploy-source, deploy-source-metadata)"),
    "config:set": (f"{M}.config:set_", "Set environment variables: KEY=VALUE…"),
    "config:get": (f"{M}.config:get", "Print one environment variable"),
    "config:unset": (f"{M}.config:unset", "Unset environment variables"),
    "config:show": (f"{M}.config:show", "Show an app's environment"),
    "config:keys": (f"{M}.config:keys", "List an app's environment variable names"),
    "config:export": (f"{M}.config:export", "Print an app's environment (exports, envfile, shell, json…)"),
    "config:import": (f"{M}.config:import_", "Set variables from a file or stdin (envfile or --format json)"),
    "config:clear": (f"{M}.config:clear", "Unset every variable of an app (or --global)"),
    "config:bundle": (f"{M}.config:bundle", "Write the environment as a tarball (one file per key)"),
    "plugins:list": (f"{M}.plugins:list_plugins", "List installed drivers with their capabilities"),
    # property store
    "props:get": (f"{M}.props:get", "Print a property"),
    "props:set": (f"{M}.props:set_", "Set a property (or a list with --list)"),
    "props:unset": (f"{M}.props:unset", "Delete a property"),
    "props:list": (f"{M}.props:list_props", "List properties"),
    "props:export": (f"{M}.props:export", "Export every property as JSON Lines"),
    "props:import": (f"{M}.props:import_", "Import properties from an export file"),
    "props:backup": (f"{M}.props:backup", "Write a timestamped backup and keep the newest N"),
    "props:restore": (f"{M}.props:restore", "Restore a backup (import --replace)"),
    "props:migrate": (f"{M}.props:migrate", "Copy every property to another store and verify it"),
    "props:check": (f"{M}.props:check", "Check the store for leftovers and invalid names (--repair)"),
    # scheduler and deploy
    "deploy": (f"{M}.deploy:deploy", "Deploy an app from an image or a Dockerfile build"),
    "git:from-image": (f"{M}.deploy:from_image", "Deploy an app from an existing image"),
    "run": (f"{M}.deploy:run", "Run a one-off command in a new container"),
    "logs": (f"{M}.deploy:logs", "Show an app's logs"),
    "ps:scale": (f"{M}.ps:scale", "Set process counts: TYPE=N…"),
    "ps:report": (f"{M}.ps:report", "Report on an app's processes"),
    "ps:start": (f"{M}.ps:start", "Start an app's processes"),
    "ps:stop": (f"{M}.ps:stop", "Stop an app's processes"),
    "ps:restart": (f"{M}.ps:restart", "Restart an app's processes"),
    "ps:rebuild": (f"{M}.ps:rebuild", "Redeploy the current release"),
    "ps:inspect": (f"{M}.ps:inspect", "Print an app's containers as JSON (docker inspect, env values masked)"),
    "ps:restore": (f"{M}.ps:restore", "Start apps that were running before a reboot (restore not false)"),
    "ps:retire": (f"{M}.ps:retire", "Remove old containers and images left after deploys"),
    "cleanup": (f"{M}.ps:cleanup", "Remove leftovers of deploys and exited one-off containers"),
    "ps:set": (f"{M}.ps:set_", "Set a ps property (procfile-path, restart-policy, restore, stop-timeout-seconds)"),
    "checks:set": (f"{M}.checks:set_", "Set a checks property"),
    "checks:report": (f"{M}.checks:report", "Report checks settings"),
    "checks:disable": (f"{M}.checks:disable", "Disable zero-downtime deploys for an app's processes"),
    "checks:enable": (f"{M}.checks:enable", "Enable zero-downtime deploys for an app's processes"),
    "checks:skip": (f"{M}.checks:skip", "Skip checks but keep zero-downtime deploys"),
    "checks:run": (f"{M}.checks:run", "Run the checks now on an app's running containers"),
    "scheduler:set": (f"{M}.scheduler:set_", "Select an app's (or the global) scheduler"),
    "scheduler:report": (f"{M}.scheduler:report", "Report scheduler selection"),
    "scheduler-docker-local:set": (f"{M}.scheduler_docker_local:set_", "Set a docker-local property"),
    "scheduler-docker-local:report": (f"{M}.scheduler_docker_local:report", "Report docker-local settings"),
    "network:create": (f"{M}.network:create", "Create an attachable bridge network"),
    "network:destroy": (f"{M}.network:destroy", "Destroy a network"),
    "network:exists": (f"{M}.network:exists", "Exit 0 if the network exists"),
    "network:info": (f"{M}.network:info", "Show a network"),
    "network:list": (f"{M}.network:list_networks", "List networks"),
    "network:rebuild": (f"{M}.network:rebuild", "Recompute an app's listeners"),
    "network:rebuildall": (f"{M}.network:rebuildall", "Recompute every app's listeners"),
    "network:report": (f"{M}.network:report", "Report network settings"),
    "network:set": (f"{M}.network:set_", "Set a network property"),
    # proxy
    "proxy:build-config": (f"{M}.proxy:build_config", "Rebuild proxy config for an app or --all"),
    "proxy:clear-config": (f"{M}.proxy:clear_config", "Remove an app's proxy config"),
    "proxy:report": (f"{M}.proxy:report", "Report proxy settings"),
    "proxy:enable": (f"{M}.proxy:enable", "Route an app (or --all) through its proxy again"),
    "proxy:disable": (f"{M}.proxy:disable", "Stop routing an app (or --all): its proxy config is removed"),
    "proxy:set": (f"{M}.proxy:set_", "Set the proxy type of an app"),
    "ports:add": (f"{M}.ports:add", "Add port mappings"),
    "ports:set": (f"{M}.ports:set_", "Replace port mappings"),
    "ports:remove": (f"{M}.ports:remove", "Remove port mappings"),
    "ports:clear": (f"{M}.ports:clear", "Clear port mappings"),
    "ports:report": (f"{M}.ports:report", "Report port mappings"),
    "domains:add": (f"{M}.domains:add", "Add domains"),
    "domains:remove": (f"{M}.domains:remove", "Remove domains"),
    "domains:set": (f"{M}.domains:set_", "Replace domains"),
    "domains:report": (f"{M}.domains:report", "Report domains"),
    "domains:add-global": (f"{M}.domains:add_global", "Add global domains"),
    "domains:remove-global": (f"{M}.domains:remove_global", "Remove global domains"),
    "domains:set-global": (f"{M}.domains:set_global", "Replace the global domains"),
    "domains:clear-global": (f"{M}.domains:clear_global", "Remove every global domain"),
    "domains:clear": (f"{M}.domains:clear", "Remove every domain of an app"),
    "domains:reset": (f"{M}.domains:reset", "Reset an app's domains to APP.GLOBALDOMAIN"),
    "domains:enable": (f"{M}.domains:enable", "Route an app's domains"),
    "domains:disable": (f"{M}.domains:disable", "Route none of an app's domains"),
    "certs:add": (f"{M}.certs:add", "Add a TLS certificate and key"),
    "certs:remove": (f"{M}.certs:remove", "Remove the TLS certificate"),
    "certs:report": (f"{M}.certs:report", "Report the TLS certificate"),
    "certs:update": (f"{M}.certs:update", "Replace the TLS certificate and key (as certs:add)"),
    "certs:show": (f"{M}.certs:show", "Print the certificate (crt) or the private key (key)"),
    "certs:generate": (f"{M}.certs:generate", "Generate a self-signed certificate and print its CSR"),
    "letsencrypt:enable": (f"{M}.letsencrypt:enable", "Get or renew a certificate from an ACME server"),
    "letsencrypt:disable": (f"{M}.letsencrypt:disable", "Remove an app's letsencrypt certificate"),
    "letsencrypt:revoke": (f"{M}.letsencrypt:revoke", "Revoke an app's letsencrypt certificate"),
    "letsencrypt:auto-renew": (f"{M}.letsencrypt:auto_renew", "Renew certificates that are due (safe from cron)"),
    "letsencrypt:list": (f"{M}.letsencrypt:list_apps", "List letsencrypt-secured apps with certificate expiry"),
    "letsencrypt:active": (f"{M}.letsencrypt:active", "Exit 0 if an app has a letsencrypt certificate"),
    "letsencrypt:set": (f"{M}.letsencrypt:set_", "Set a letsencrypt property (email, server, renew-days)"),
    "letsencrypt:report": (f"{M}.letsencrypt:report", "Report letsencrypt settings and certificates"),
    "events:listen": (f"{M}.events:listen", "Follow scheduler events and keep routing right"),
    # Dokku's standard commands
    "url": (f"{M}.urls:url", "Print an app's first URL"),
    "urls": (f"{M}.urls:urls", "Print every URL an app is served on"),
    "version": (f"{M}.urls:version", "Print Dockyard's version"),
    # moving from Dokku
    "dokku:import": (f"{M}.dokku_import:import_", "Import a Dokku server's apps and settings into the store"),
}

#: commands whose trailing arguments belong to the user's program (no global-option parsing)
PASSTHROUGH = {"run"}

#: commands with a ``--format`` of their own (not the global text/json one)
OWN_FORMAT = {"config:export", "config:import"}

#: Dokku's bare topic commands: ``config APP`` is ``config:show APP``
DEFAULT_SUBCOMMAND = {"config": "show"}
