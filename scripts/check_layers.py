"""Checks that the modules depend on each other only as the layers allow (issue 13), in two ways:

1. every `import` in Sources/<Module>/ names a module that module's row of ALLOWED lists;
2. the targets' dependencies in Package.swift (from `swift package dump-package`) stay in those rows too, and no
   module reaches a C library or Crypto it must not link, even transitively (FORBIDDEN).

Run by scripts/check-layers.sh, part of `make test`. A new dependency is added here on purpose, with its reason.
"""

import json
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent

# Platform modules any module may import.
PLATFORM = {"Foundation", "Glibc", "Darwin", "Synchronization"}

# The modules each module may import (and depend on in Package.swift), lowest layer first.
ALLOWED = {
    # The pure shared types: nothing at all, not even Foundation.
    "AsyncTaskCore": set(),
    # AsyncTaskCore: UTCTimestamp, the one text form of a timestamp (sent to PostgreSQL, and in the try history).
    "PostgresClient": {"AsyncTaskCore", "CLibPQ", "Logging"},
    # DequeModule (swift-collections): the engine's queue of requests waiting for a transfer slot.
    "CurlHTTP": {"AsyncTaskCore", "CCurl", "CCurlShims", "DequeModule", "Logging", "ServiceLifecycle"},
    # The model: no HTTP.
    "AsyncTask": {"AsyncTaskCore", "PostgresClient", "Crypto", "Yams", "Logging"},
    # The contract with targets: HTTP only, no database (so no libpq, no Crypto).
    "AsyncTaskTargets": {"AsyncTaskCore", "CurlHTTP"},
    # The operator surface: the model and Hummingbird, no HTTP client (so no libcurl).
    "AsyncTaskAdmin": {
        "AsyncTask", "AsyncTaskCore", "PostgresClient",
        "Hummingbird", "HTTPTypes", "Prometheus", "Logging", "NIOCore", "ServiceLifecycle",
    },
    "AsyncTaskWorker": {
        "AsyncTask", "AsyncTaskCore", "AsyncTaskTargets", "CurlHTTP", "PostgresClient",
        "Logging", "Metrics", "CoreMetrics", "ServiceLifecycle", "Configuration", "SystemPackage", "Yams", "Crypto",
    },
    "asynctask": {
        "AsyncTask", "AsyncTaskCore", "AsyncTaskAdmin", "AsyncTaskWorker", "AsyncTaskTargets", "CurlHTTP", "PostgresClient",
        "ArgumentParser", "Configuration", "SystemPackage", "Logging", "Metrics", "Prometheus", "ServiceLifecycle",
        "UnixSignals", "Hummingbird", "HTTPTypes",
    },
}

# Modules a module must not reach through any chain of dependencies: what it would link for nothing.
FORBIDDEN = {
    "AsyncTaskCore": {"CLibPQ", "CCurl", "Crypto", "Hummingbird"},
    "AsyncTaskTargets": {"AsyncTask", "PostgresClient", "CLibPQ", "Crypto"},
    "AsyncTaskAdmin": {"AsyncTaskTargets", "CurlHTTP", "CCurl"},
    "AsyncTask": {"CurlHTTP", "CCurl", "Hummingbird"},
}

# Files of a module that alone may import a module (the rest of the module must not): the CLI runs the admin
# server only in `worker`; its other commands share the model's parsers, not the Hummingbird module's.
ONLY_IN = {
    ("asynctask", "AsyncTaskAdmin"): {"Commands/WorkerCommand.swift"},
}

IMPORT = re.compile(r"^\s*(?:@\w+\s+)*(?:public\s+|internal\s+|package\s+|private\s+|fileprivate\s+)?import\s+(?:(?:struct|class|enum|protocol|func|var|let|typealias)\s+)?([A-Za-z_][A-Za-z0-9_]*)", re.M)


def source_imports(module):
    """(relative file, imported module) for every import in Sources/<module>."""
    base = ROOT / "Sources" / module
    for path in sorted(base.rglob("*.swift")):
        for name in IMPORT.findall(path.read_text(encoding="utf-8")):
            yield str(path.relative_to(base)), name


def manifest():
    output = subprocess.run(
        ["swift", "package", "dump-package"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    return json.loads(output)


def dependency_names(target):
    names = []
    for dependency in target.get("dependencies", []):
        for kind in ("byName", "target", "product"):
            if kind in dependency:
                names.append(dependency[kind][0])
    return names


def main():
    problems = []
    for module, allowed in ALLOWED.items():
        # The leaf module does without even the platform's modules.
        platform = set() if module == "AsyncTaskCore" else PLATFORM
        for file, name in source_imports(module):
            if name not in allowed | platform:
                problems.append(f"Sources/{module}/{file} imports {name}, which {module} may not use")
            only = ONLY_IN.get((module, name))
            if only is not None and file not in only:
                problems.append(f"Sources/{module}/{file} imports {name}, which only {', '.join(sorted(only))} may")

    targets = {target["name"]: target for target in manifest()["targets"]}
    for module, allowed in ALLOWED.items():
        if module not in targets:
            problems.append(f"Package.swift has no target {module}")
            continue
        for name in dependency_names(targets[module]):
            if name not in allowed:
                problems.append(f"Package.swift: {module} depends on {name}, which {module} may not use")

    def reach(module, seen):
        for name in dependency_names(targets.get(module, {})):
            if name not in seen:
                seen.add(name)
                reach(name, seen)
        return seen

    for module, forbidden in FORBIDDEN.items():
        reached = reach(module, set())
        for name in sorted(reached & forbidden):
            problems.append(f"Package.swift: {module} reaches {name} through its dependencies")

    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"layers: {len(ALLOWED)} modules import and depend only on what their layer allows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
