#!/usr/bin/env python3
"""Static and loopback checks of everything `deploy/`, the Dockerfile and the README promise each other.

Run by scripts/check-deploy.sh (part of `make test`); no Docker engine or cluster is needed:

- every YAML file under deploy/ parses (and the worker configs embedded in ConfigMaps);
- Kubernetes: kustomization resources exist; every Secret/ConfigMap key an env var or volume uses exists (and
  every Secret key is used); probes use declared container ports and admin routes (/healthz, /readyz,
  /metrics); the admin port matches the admin listen address; `--config` points at a mounted ConfigMap key;
  every ${VAR} of the worker config is in the container's environment; terminationGracePeriodSeconds exceeds
  node.shutdown_grace; selectors of the Service, PDB, anti-affinity and ServiceMonitor match the pods; the HPA
  scales the Deployment, which requests CPU;
- Compose: dependencies (workers wait for a successful migrate, migrate for a healthy PostgreSQL), replicas,
  mounted files exist, target and webhook URLs name services on ports they expose, stop_grace_period exceeds
  node.shutdown_grace;
- every config key in a deploy config and every ASYNCTASK_* variable is in the README's configuration
  reference (ConfigReferenceTests ties that reference to the code's known keys);
- the Dockerfile builds with scripts/build-release.sh (the script `make release` runs) and nothing else,
  runs as a numeric non-root uid (and the pods as runAsNonRoot, no container escalating or keeping capabilities),
  has ENTRYPOINT/CMD/HEALTHCHECK/STOPSIGNAL/OCI labels, installs only libpq5, libcurl4 and
  CA certificates at run time;
- the container health check script and the Compose webhook receiver work against real loopback sockets.
"""
import glob
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import threading
import urllib.parse
import urllib.request

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
DEPLOY = os.path.join(ROOT, "deploy")
ADMIN_ROUTES = {"/healthz", "/readyz", "/metrics"}
RUNTIME_PACKAGES = {"libpq5", "libcurl4", "ca-certificates"}

errors = []


def fail(where, message):
    errors.append(f"{os.path.relpath(where, ROOT) if os.path.isabs(where) else where}: {message}")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


# ---- facts read from the code and the README ---------------------------------------------------------------

def parse_duration(text):
    """Seconds in a duration, as Sources/AsyncTaskTargets/DurationParser.swift reads it (ms, s, m, h, bare)."""
    m = re.fullmatch(r"\s*([-+]?[0-9.]+)\s*(ms|s|m|h)?\s*", str(text))
    if not m:
        raise ValueError(f"'{text}' is not a duration (250ms, 2s, 5m, 1h or seconds)")
    return float(m.group(1)) * {"ms": 0.001, None: 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def default_shutdown_grace():
    source = read(os.path.join(ROOT, "Sources/AsyncTaskWorker/Configuration/WorkerConfiguration.swift"))
    m = re.search(r"shutdownGrace: Duration = \.(seconds|milliseconds)\((\d+)\)", source)
    if not m:
        fail("WorkerConfiguration.swift", "cannot find the default of shutdownGrace (Node.init)")
        return 25.0
    return float(m.group(2)) * (1 if m.group(1) == "seconds" else 0.001)


def cli_subcommands():
    names = set()
    for path in glob.glob(os.path.join(ROOT, "Sources/asynctask/**/*.swift"), recursive=True):
        names.update(re.findall(r'commandName: "([a-z][a-z-]*)"', read(path)))
    return names


def placeholder_pattern(text, wildcard):
    """A regex for a reference entry: `<name>`-style placeholders match `wildcard`, the rest literally."""
    parts = re.split(r"<[^>]*>", text)
    return re.compile("^" + wildcard.join(re.escape(p) for p in parts) + "$")


def readme_reference():
    """(key regexes, env regexes) from the README's "Configuration reference" table."""
    path = os.path.join(ROOT, "README.md")
    text = read(path)
    m = re.search(r"^## Configuration reference\n(.*?)(?=^## )", text, re.S | re.M)
    if not m:
        fail(path, "no '## Configuration reference' section")
        return [], []
    keys, envs = [], []
    for line in m.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        key, env = cells[0].strip("`"), cells[2].strip("`")
        keys.append(placeholder_pattern(key, "[^.]+"))
        if env.startswith("ASYNCTASK_"):
            envs.append(placeholder_pattern(env, "[A-Z0-9_]+"))
    if not keys:
        fail(path, "the configuration reference has no table rows")
    return keys, envs


def leaf_keys(node, prefix=""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from leaf_keys(v, f"{prefix}.{k}" if prefix else str(k))
    else:
        yield prefix


def dig(node, dotted):
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


# ---- YAML ----------------------------------------------------------------------------------------------------

def load_yaml_files():
    docs = {}
    files = sorted(glob.glob(os.path.join(DEPLOY, "**/*.y*ml"), recursive=True))
    if not files:
        fail(DEPLOY, "no YAML files")
    for path in files:
        try:
            docs[path] = [d for d in yaml.safe_load_all(read(path)) if d is not None]
        except yaml.YAMLError as e:
            fail(path, f"does not parse: {e}")
    return docs


def check_worker_config(where, config, reference_keys, environment_names):
    """Keys documented, durations readable, ${VAR}s provided by the environment; returns shutdown grace."""
    if not isinstance(config, dict):
        fail(where, "the worker config is not a mapping")
        return None
    for key in leaf_keys(config):
        if not any(p.match(key) for p in reference_keys):
            fail(where, f"config key '{key}' is not in the README's configuration reference")
    for var in sorted(set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", yaml.safe_dump(config)))):
        if var not in environment_names:
            fail(where, f"the config expands ${{{var}}} but the container environment does not set {var}")
    for key in ("node.lease", "node.heartbeat", "node.shutdown_grace", "node.dead_after"):
        value = dig(config, key)
        if value is not None:
            try:
                parse_duration(value)
            except ValueError as e:
                fail(where, f"{key}: {e}")
    return config


def effective_grace(config, env_values, default):
    value = env_values.get("ASYNCTASK_NODE_SHUTDOWN_GRACE") or dig(config or {}, "node.shutdown_grace")
    return parse_duration(value) if value is not None else default


def admin_port(config, env_values):
    listen = env_values.get("ASYNCTASK_ADMIN_LISTEN") or dig(config or {}, "admin.listen") or "127.0.0.1:9090"
    return int(str(listen).rsplit(":", 1)[1]), str(listen)


def check_env_names(where, names, reference_envs):
    for name in names:
        if name.startswith("ASYNCTASK_") and not any(p.match(name) for p in reference_envs):
            fail(where, f"environment variable {name} is not an override in the README's configuration reference")


# ---- Kubernetes ------------------------------------------------------------------------------------------------

def check_kubernetes(docs, reference_keys, reference_envs, grace_default, subcommands):
    kdir = os.path.join(DEPLOY, "kubernetes")
    kustomization_path = os.path.join(kdir, "kustomization.yaml")
    kustomization = (docs.get(kustomization_path) or [{}])[0]
    resources = kustomization.get("resources", [])
    for r in resources:
        if not os.path.isfile(os.path.join(kdir, r)):
            fail(kustomization_path, f"resource {r} does not exist")
    for path in sorted(glob.glob(os.path.join(kdir, "*.y*ml"))):
        name = os.path.basename(path)
        if name != "kustomization.yaml" and name not in resources and not read(path).startswith("# optional:"):
            fail(kustomization_path, f"{name} is neither listed in resources nor marked '# optional:'")

    objects = {}
    for path, documents in docs.items():
        if not path.startswith(kdir + os.sep) or path == kustomization_path:
            continue
        for d in documents:
            if not isinstance(d, dict) or "kind" not in d:
                fail(path, "a document without kind")
                continue
            objects[(d["kind"], d["metadata"]["name"])] = (path, d)

    def data_keys(kind, name):
        entry = objects.get((kind, name))
        if not entry:
            return None
        d = entry[1]
        return set((d.get("data") or {}).keys()) | set((d.get("stringData") or {}).keys())

    used_secret_keys = set()
    image_names = {i["name"] for i in kustomization.get("images", [])}
    workloads = [(k, n, p, d) for (k, n), (p, d) in objects.items() if k in ("Deployment", "Job")]
    if not any(k == "Deployment" for k, *_ in workloads) or not any(k == "Job" for k, *_ in workloads):
        fail(kdir, "expected a worker Deployment and a migration Job")
    hpa_cpu = any(k == "HorizontalPodAutoscaler" for k, _ in objects)
    for kind, name, path, d in workloads:
        where = f"{os.path.relpath(path, ROOT)} ({kind} {name})"
        pod = d["spec"]["template"]
        spec = pod["spec"]
        labels = pod["metadata"].get("labels", {})
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        pod_security = spec.get("securityContext", {})
        if pod_security.get("runAsNonRoot") is not True:
            fail(where, "the pod does not set securityContext.runAsNonRoot: true")
        if pod_security.get("runAsUser", 1) == 0 or pod_security.get("runAsGroup", 1) == 0:
            fail(where, "the pod's securityContext runs as uid or gid 0")
        if kind == "Deployment":
            selector = d["spec"]["selector"]["matchLabels"]
            if not selector.items() <= labels.items():
                fail(where, "spec.selector does not match the pod template's labels")
        for v in volumes.values():
            for ref_kind, field in (("ConfigMap", "configMap"), ("Secret", "secret")):
                if field in v:
                    ref_name = v[field].get("name") or v[field].get("secretName")
                    keys = data_keys(ref_kind, ref_name)
                    if keys is None:
                        fail(where, f"volume {v['name']} uses {ref_kind} {ref_name}, which does not exist")
                        continue
                    for item in v[field].get("items", []):
                        if item["key"] not in keys:
                            fail(where, f"volume {v['name']} uses key {item['key']} missing from {ref_kind} {ref_name}")
                        if ref_kind == "Secret":
                            used_secret_keys.add((ref_name, item["key"]))
        for c in spec["containers"]:
            cwhere = f"{where} container {c['name']}"
            security = c.get("securityContext", {})
            if security.get("runAsNonRoot") is False or security.get("runAsUser", 1) == 0 or security.get("privileged") is True:
                fail(cwhere, "the container's securityContext undoes the pod's non-root setting (runAsNonRoot false, "
                             "runAsUser 0 or privileged)")
            if security.get("allowPrivilegeEscalation") is not False:
                fail(cwhere, "the container does not set securityContext.allowPrivilegeEscalation: false")
            if "ALL" not in (security.get("capabilities") or {}).get("drop", []):
                fail(cwhere, "the container does not drop all capabilities (securityContext.capabilities.drop: [ALL])")
            image = c.get("image", "")
            if image.split(":")[0] not in image_names:
                fail(cwhere, f"image {image} is not one kustomization.yaml's images sets")
            args = c.get("args", [])
            if not args or args[0] not in subcommands:
                fail(cwhere, f"args {args} do not start with an asynctask subcommand ({', '.join(sorted(subcommands))})")
            env_values, env_names = {}, set()
            for e in c.get("env", []):
                env_names.add(e["name"])
                if "value" in e:
                    env_values[e["name"]] = str(e["value"])
                ref = e.get("valueFrom", {})
                for ref_kind, field in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
                    if field in ref:
                        keys = data_keys(ref_kind, ref[field]["name"])
                        if keys is None:
                            fail(cwhere, f"env {e['name']} uses {ref_kind} {ref[field]['name']}, which does not exist")
                        elif ref[field]["key"] not in keys:
                            fail(cwhere, f"env {e['name']} uses key {ref[field]['key']} missing from {ref_kind} {ref[field]['name']}")
                        if ref_kind == "Secret":
                            used_secret_keys.add((ref[field]["name"], ref[field]["key"]))
            check_env_names(cwhere, env_names, reference_envs)
            mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
            for m in mounts.values():
                if m["name"] not in volumes:
                    fail(cwhere, f"volumeMount {m['name']} names no volume")
            config = None
            if "--config" in args:
                config_path = args[args.index("--config") + 1]
                directory, filename = os.path.split(config_path)
                mount = mounts.get(directory)
                volume = volumes.get(mount["name"]) if mount else None
                if not volume or "configMap" not in volume:
                    fail(cwhere, f"--config {config_path}: no ConfigMap volume is mounted at {directory}")
                else:
                    cm = objects.get(("ConfigMap", volume["configMap"]["name"]))
                    items = {i["path"]: i["key"] for i in volume["configMap"].get("items", [])}
                    key = items.get(filename, filename if not items else None)
                    text = ((cm[1].get("data") or {}).get(key) if cm and key else None)
                    if text is None:
                        fail(cwhere, f"--config {config_path}: the mounted ConfigMap has no key for {filename}")
                    else:
                        try:
                            config = check_worker_config(f"{cwhere} --config {config_path}", yaml.safe_load(text),
                                                         reference_keys, env_names)
                        except yaml.YAMLError as e:
                            fail(cwhere, f"the worker config in the ConfigMap does not parse: {e}")
            if args[:1] == ["worker"]:
                ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
                port, listen = admin_port(config, env_values)
                if port not in ports.values():
                    fail(cwhere, f"the admin server listens on {listen} but no containerPort is {port}")
                if listen.startswith("127.") or listen.startswith("localhost"):
                    fail(cwhere, f"the admin server listens on {listen}: probes from the kubelet cannot reach it")
                expected = {"livenessProbe": "/healthz", "readinessProbe": "/readyz"}
                for probe_name in ("livenessProbe", "readinessProbe", "startupProbe"):
                    probe = c.get(probe_name)
                    if probe is None:
                        if probe_name in expected:
                            fail(cwhere, f"no {probe_name}")
                        continue
                    get = probe.get("httpGet", {})
                    if get.get("path") not in ADMIN_ROUTES:
                        fail(cwhere, f"{probe_name} path {get.get('path')} is not an admin route {sorted(ADMIN_ROUTES)}")
                    if probe_name in expected and get.get("path") != expected[probe_name]:
                        fail(cwhere, f"{probe_name} should use {expected[probe_name]}, not {get.get('path')}")
                    probe_port = get.get("port")
                    resolved = ports.get(probe_port) if isinstance(probe_port, str) else probe_port
                    if resolved is None or resolved not in ports.values():
                        fail(cwhere, f"{probe_name} port {probe_port} is not a declared container port")
                    elif resolved != port:
                        fail(cwhere, f"{probe_name} port {probe_port} is not the admin port {port}")
                grace = effective_grace(config, env_values, grace_default)
                termination = spec.get("terminationGracePeriodSeconds", 30)
                if not termination > grace:
                    fail(cwhere, f"terminationGracePeriodSeconds {termination} must exceed node.shutdown_grace ({grace:g}s)")
                if hpa_cpu and "cpu" not in c.get("resources", {}).get("requests", {}):
                    fail(cwhere, "the HPA scales on CPU utilisation but the container requests no CPU")
                if "memory" not in c.get("resources", {}).get("limits", {}):
                    fail(cwhere, "no memory limit")
        if kind == "Deployment":
            for term in spec.get("affinity", {}).get("podAntiAffinity", {}).get(
                    "preferredDuringSchedulingIgnoredDuringExecution", []):
                sel = term["podAffinityTerm"]["labelSelector"]["matchLabels"]
                if not sel.items() <= labels.items():
                    fail(where, "the anti-affinity selector does not match the pods' labels")
            if not spec.get("affinity", {}).get("podAntiAffinity"):
                fail(where, "no podAntiAffinity")

    deployments = {n: d for (k, n), (_, d) in objects.items() if k == "Deployment"}

    def pods_matching(selector):
        return [n for n, d in deployments.items() if selector.items() <= d["spec"]["template"]["metadata"].get("labels", {}).items()]

    for (kind, name), (path, d) in objects.items():
        where = f"{os.path.relpath(path, ROOT)} ({kind} {name})"
        if kind == "Secret":
            for key in data_keys("Secret", name):
                if (name, key) not in used_secret_keys:
                    fail(where, f"key {key} is used by no container")
        elif kind == "Service":
            matched = pods_matching(d["spec"]["selector"])
            if not matched:
                fail(where, "the selector matches no Deployment's pods")
            for p in d["spec"]["ports"]:
                target = p.get("targetPort", p["port"])
                for dep in matched:
                    cports = [cp for c in deployments[dep]["spec"]["template"]["spec"]["containers"] for cp in c.get("ports", [])]
                    if not any(cp.get("name") == target or cp["containerPort"] == target for cp in cports):
                        fail(where, f"targetPort {target} is not a container port of {dep}")
        elif kind == "PodDisruptionBudget":
            if not pods_matching(d["spec"]["selector"]["matchLabels"]):
                fail(where, "the selector matches no Deployment's pods")
        elif kind == "HorizontalPodAutoscaler":
            ref = d["spec"]["scaleTargetRef"]
            if (ref["kind"], ref["name"]) not in objects:
                fail(where, f"scaleTargetRef {ref['kind']} {ref['name']} does not exist")
            if d["spec"]["minReplicas"] > d["spec"]["maxReplicas"]:
                fail(where, "minReplicas exceeds maxReplicas")
        elif kind == "ServiceMonitor":
            services = [s for (k, _), (_, s) in objects.items() if k == "Service"
                        and d["spec"]["selector"]["matchLabels"].items() <= s["metadata"].get("labels", {}).items()]
            if not services:
                fail(where, "the selector matches no Service's labels")
            for endpoint in d["spec"]["endpoints"]:
                if endpoint.get("path", "/metrics") != "/metrics":
                    fail(where, f"endpoint path {endpoint.get('path')} is not /metrics")
                if not any(endpoint["port"] == p.get("name") for s in services for p in s["spec"]["ports"]):
                    fail(where, f"endpoint port {endpoint['port']} is not a port name of the selected Service")
    return len(objects)


# ---- Compose -----------------------------------------------------------------------------------------------------

def check_compose(docs, reference_keys, reference_envs, grace_default, subcommands):
    cdir = os.path.join(DEPLOY, "compose")
    path = os.path.join(cdir, "docker-compose.yml")
    if path not in docs:
        fail(path, "missing")
        return 0
    services = docs[path][0]["services"]

    def service_ports(service):
        ports = {int(str(p).split("/")[0]) for p in service.get("expose", [])}
        command = service.get("command", [])
        if "--port" in command:
            ports.add(int(command[command.index("--port") + 1]))
        return ports

    for name, s in services.items():
        where = f"{os.path.relpath(path, ROOT)} service {name}"
        for dep in (s.get("depends_on") or {}):
            if dep not in services:
                fail(where, f"depends on {dep}, which is not a service")
        for volume in s.get("volumes", []):
            source = str(volume).split(":")[0]
            if source.startswith("."):
                if not os.path.exists(os.path.join(cdir, source)):
                    fail(where, f"mounts {source}, which does not exist")
        env = s.get("environment") or {}
        check_env_names(where, env.keys(), reference_envs)
        uses_image = "asynctask" in str(s.get("image", ""))
        command = s.get("command", [])
        if uses_image and (not command or command[0] not in subcommands):
            fail(where, f"command {command} does not start with an asynctask subcommand")
        health = (s.get("healthcheck") or {}).get("test", [])
        if "asynctask-healthcheck" in health:
            args = health[health.index("asynctask-healthcheck") + 1:]
            if args and int(args[0]) not in service_ports(s):
                fail(where, f"the health check probes port {args[0]}, which the service does not expose")
            if len(args) > 1 and args[1] != "/healthz" and args[1] not in ADMIN_ROUTES:
                fail(where, f"the health check path {args[1]} is not a health route")

    postgres, migrate, worker = (services.get(n) for n in ("postgres", "migrate", "worker"))
    if not (postgres and migrate and worker):
        fail(path, "expected services postgres, migrate and worker")
        return len(services)
    if "healthcheck" not in postgres:
        fail(path, "postgres has no healthcheck, so migrate cannot wait for it")
    if (migrate.get("depends_on") or {}).get("postgres", {}).get("condition") != "service_healthy":
        fail(path, "migrate must wait for postgres: service_healthy")
    if (worker.get("depends_on") or {}).get("migrate", {}).get("condition") != "service_completed_successfully":
        fail(path, "worker must wait for migrate: service_completed_successfully")
    replicas = (worker.get("deploy") or {}).get("replicas")
    if not isinstance(replicas, int) or replicas < 2:
        fail(path, f"worker deploy.replicas should be several (got {replicas})")
    command = worker.get("command", [])
    config, env = None, worker.get("environment") or {}
    if "--config" in command:
        target = command[command.index("--config") + 1]
        mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in worker.get("volumes", [])}
        if target not in mounts:
            fail(path, f"worker --config {target} is not a mounted file")
        else:
            config_file = os.path.normpath(os.path.join(cdir, mounts[target]))
            config = check_worker_config(os.path.relpath(config_file, ROOT), (docs.get(config_file) or [None])[0],
                                         reference_keys, set(env.keys()))
    if config:
        urls = [(f"targets.{n}.url", t.get("url")) for n, t in (config.get("targets") or {}).items()]
        if dig(config, "webhook.url"):
            urls.append(("webhook.url", dig(config, "webhook.url")))
        for key, url in urls:
            u = urllib.parse.urlsplit(str(url))
            if u.hostname not in services:
                fail(path, f"{key} {url}: {u.hostname} is not a Compose service")
            elif (u.port or 80) not in service_ports(services[u.hostname]):
                fail(path, f"{key} {url}: service {u.hostname} does not expose port {u.port or 80}")
        port, listen = admin_port(config, {k: str(v) for k, v in env.items()})
        if port not in service_ports(worker):
            fail(path, f"the worker's admin server listens on {listen} but the service does not expose {port}")
    grace = effective_grace(config, {k: str(v) for k, v in env.items()}, grace_default)
    stop = worker.get("stop_grace_period")
    if stop is None or not parse_duration(stop) > grace:
        fail(path, f"worker stop_grace_period ({stop}) must exceed node.shutdown_grace ({grace:g}s)")
    return len(services)


# ---- Dockerfile, Makefile, build script ------------------------------------------------------------------------

def dockerfile_instructions(text):
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def check_dockerfile():
    path = os.path.join(ROOT, "Dockerfile")
    instructions = dockerfile_instructions(read(path))
    runs = [rest for word, rest in instructions if word == "RUN"]
    builds = [r for r in runs if "scripts/build-release.sh" in r]
    if len(builds) != 1:
        fail(path, f"expected exactly one RUN of scripts/build-release.sh, found {len(builds)}")
    for r in runs:
        if re.search(r"\bswift\s+build\b", r):
            fail(path, f"RUN builds with swift directly ({r[:60]}…): use scripts/build-release.sh so it matches `make release`")
    froms = [rest for word, rest in instructions if word == "FROM"]
    if len(froms) < 2 or not froms[0].startswith("swift:") or not re.match(r"debian:\S*slim", froms[-1]):
        fail(path, f"expected a swift: build stage and a debian slim runtime stage, got {froms}")
    runtime = instructions[max(i for i, (w, _) in enumerate(instructions) if w == "FROM"):]

    def single(word):
        values = [rest for w, rest in runtime if w == word]
        return values[-1] if values else None

    if single("ENTRYPOINT") != '["asynctask"]':
        fail(path, f'ENTRYPOINT should be ["asynctask"], is {single("ENTRYPOINT")}')
    if single("CMD") != '["worker"]':
        fail(path, f'CMD should be ["worker"], is {single("CMD")}')
    if single("STOPSIGNAL") != "SIGTERM":
        fail(path, "STOPSIGNAL SIGTERM missing")
    user = single("USER")
    # Numeric uid (and gid): a runtime with runAsNonRoot (Kubernetes) can only verify a numeric user, and a name
    # could map to uid 0 in the image's /etc/passwd.
    if not user or not re.fullmatch(r"[1-9][0-9]*(:[1-9][0-9]*)?", user):
        fail(path, f"the runtime stage must switch to a non-root USER given as a numeric uid[:gid] other than 0 (is {user})")
    health = single("HEALTHCHECK") or ""
    if "asynctask-healthcheck" not in health:
        fail(path, "HEALTHCHECK should run asynctask-healthcheck")
    if not any(w == "COPY" and rest.startswith("scripts/container-healthcheck.sh ") and rest.endswith("/asynctask-healthcheck")
               for w, rest in runtime):
        fail(path, "the runtime stage does not install scripts/container-healthcheck.sh as asynctask-healthcheck")
    labels = " ".join(rest for w, rest in runtime if w == "LABEL")
    for label in ("org.opencontainers.image.title", "org.opencontainers.image.version", "org.opencontainers.image.description"):
        if label not in labels:
            fail(path, f"OCI label {label} missing")
    installs = [r for w, r in runtime if w == "RUN" and "apt-get install" in r]
    packages = set()
    for r in installs:
        segment = r.split("apt-get install", 1)[1].split("&&")[0]
        packages |= {p for p in segment.split() if not p.startswith("-")}
    if packages != RUNTIME_PACKAGES:
        fail(path, f"the runtime stage should install exactly {sorted(RUNTIME_PACKAGES)}, installs {sorted(packages)}")
    env = " ".join(rest for w, rest in runtime if w == "ENV")
    m = re.search(r"ASYNCTASK_ADMIN_LISTEN=\S+:(\d+)", env)
    exposed = {int(p.split("/")[0]) for w, rest in runtime if w == "EXPOSE" for p in rest.split()}
    if not m or int(m.group(1)) not in exposed:
        fail(path, f"EXPOSE {sorted(exposed)} does not include the ASYNCTASK_ADMIN_LISTEN port")

    makefile = read(os.path.join(ROOT, "Makefile"))
    m = re.search(r"^release:.*\n((?:\t.*\n)+)", makefile, re.M)
    if not m or "scripts/build-release.sh" not in m.group(1):
        fail("Makefile", "the release target does not run scripts/build-release.sh")
    script = read(os.path.join(ROOT, "scripts/build-release.sh"))
    for flag in ("-c release", "--static-swift-stdlib", "--product asynctask"):
        if flag not in script:
            fail("scripts/build-release.sh", f"does not build with {flag}")
    ignore = read(os.path.join(ROOT, ".dockerignore")).split()
    for entry in (".build/", ".swiftpm/", "dist/"):
        if entry not in ignore:
            fail(".dockerignore", f"does not exclude {entry}")


# ---- loopback checks of the container health check and the webhook receiver -----------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_healthcheck_script():
    script = os.path.join(ROOT, "scripts/container-healthcheck.sh")

    class Admin(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            code = 200 if self.path == "/healthz" else 503
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Admin)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        def run(args, env):
            return subprocess.run(["bash", script, *args], env={"PATH": os.environ["PATH"], **env},
                                  capture_output=True, text=True, timeout=10)
        cases = [
            ([], {"ASYNCTASK_ADMIN_LISTEN": f"0.0.0.0:{port}"}, 0, "port from ASYNCTASK_ADMIN_LISTEN, /healthz 200"),
            ([str(port), "/healthz"], {}, 0, "explicit port and path"),
            ([str(port), "/readyz"], {}, 1, "a 503 answer"),
            ([str(free_port())], {}, 1, "nothing listening"),
        ]
        for args, env, expected, what in cases:
            result = run(args, env)
            if result.returncode != expected:
                fail(script, f"{what}: exit {result.returncode}, expected {expected} ({result.stdout.strip()})")
    finally:
        server.shutdown()


def check_webhook_receiver():
    script = os.path.join(DEPLOY, "compose/webhook-receiver.py")
    port = free_port()
    process = subprocess.Popen([sys.executable, "-u", script, "--host", "127.0.0.1", "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        body = {"event": "attempt.failed", "attempt": {"id": 42, "target": "OrderClient"}}
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                threading.Event().wait(0.05)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/async-task", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json", "AsyncTask-Signature": "t=1,v1=00"})
        with urllib.request.urlopen(request, timeout=5) as response:
            if response.status != 204:
                fail(script, f"answered {response.status}, expected 204")
        line = json.loads(process.stdout.readline())
        headers = {k.lower(): v for k, v in line.get("headers", {}).items()}
        if line.get("body") != body or headers.get("asynctask-signature") != "t=1,v1=00":
            fail(script, f"printed {line}, expected the body and the signature header")
    except Exception as e:  # any failure to talk to it is a failed check
        fail(script, f"does not receive a delivery: {e}")
    finally:
        process.terminate()
        process.wait(5)


def main():
    docs = load_yaml_files()
    reference_keys, reference_envs = readme_reference()
    grace = default_shutdown_grace()
    subcommands = cli_subcommands()
    k8s = check_kubernetes(docs, reference_keys, reference_envs, grace, subcommands)
    compose = check_compose(docs, reference_keys, reference_envs, grace, subcommands)
    check_dockerfile()
    check_healthcheck_script()
    check_webhook_receiver()
    if errors:
        for e in errors:
            print(f"check-deploy: {e}", file=sys.stderr)
        print(f"check-deploy: {len(errors)} problem(s)", file=sys.stderr)
        return 1
    print(f"check-deploy: ok ({len(docs)} YAML files, {k8s} Kubernetes objects, {compose} Compose services, "
          f"Dockerfile, health check script, webhook receiver)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
