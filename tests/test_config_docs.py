"""Every HOOKLINE_* variable a daemon or the CLI reads is documented in the README, and
docker-compose.yml and the Helm chart set only variables that exist, for the processes
that read them, with the daemons' defaults unless the setting is one a deployment must
choose (addresses, credentials, bind addresses, log format, ...).

The variables are read from the config tables themselves (common/config.c, each
daemon's main.c, cli/main.c) and common/secretbox.h. The chart is checked on a render:
HOOKLINE_K8S_RENDERED (make k8s-check sets it) or build/k8s/sasl-scram-values.yaml.
Also: the Grafana dashboard uses only metrics the daemons register."""
import os
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("ingress", "router", "forwarder", "syncer")
DAEMONS = (*STAGES, "api")
# A row's default is a string, NULL, or a macro of the wire contract (common/msg.h).
ROW = re.compile(r'\{\s*"(HOOKLINE_[A-Z0-9_]+)",\s*CONFIG_(STR|INT|BOOL),\s*("(?:[^"\\]|\\.)*"|NULL|[A-Z_][A-Z0-9_]*)',
                 re.S)
MACROS = dict(re.findall(r'#define\s+([A-Z_][A-Z0-9_]*)\s+"([^"]*)"', (ROOT / "common/msg.h").read_text()))
# Each daemon passes its admin port's default to config_from_args (the table is common's).
ADMIN_PORT = re.compile(r'config_from_args\([^;]*?"(\d{4,5})"\s*,', re.S)
# Chosen per deployment: compared with nothing but their presence.
DEPLOYMENT_SPECIFIC = {
    "HOOKLINE_DATABASE_URL", "HOOKLINE_KAFKA_BROKERS", "HOOKLINE_PUBLIC_URL", "HOOKLINE_LOG_FORMAT",
    "HOOKLINE_LOG_LEVEL", "HOOKLINE_ADMIN_BIND", "HOOKLINE_INGRESS_BIND", "HOOKLINE_ENCRYPTION_KEY",
    "HOOKLINE_ENCRYPTION_OLD_KEYS", "HOOKLINE_FORWARDER_ALLOW_CIDRS", "HOOKLINE_SYNCER_ALLOW_CIDRS",
    "HOOKLINE_FORWARDER_DRAIN_MS", "HOOKLINE_INGRESS_KAFKA_TIMEOUT_MS", "HOOKLINE_TOPIC_PARTITIONS",
    "HOOKLINE_API_BIND", "HOOKLINE_API_CORS_ORIGINS",
}
# Must be set wherever the process runs in a container (the defaults are loopback addresses).
REQUIRED = {"HOOKLINE_DATABASE_URL", "HOOKLINE_KAFKA_BROKERS"}
NEEDS_KEY = {"ingress", "router", "forwarder", "syncer", "api", "cli"}   # read stored secrets (the router: connections')


def default(token):
    if token == "NULL":
        return None
    return token[1:-1] if token.startswith('"') else MACROS[token]


def table(path):
    text = (ROOT / path).read_text()
    rows = {m.group(1): default(m.group(3)) for m in ROW.finditer(text)}
    admin = ADMIN_PORT.search(text)
    if admin:
        rows["HOOKLINE_ADMIN_PORT"] = admin.group(1)
    return rows


COMMON = table("common/config.c")
ENCRYPTION = dict.fromkeys(re.findall(r'"(HOOKLINE_ENCRYPTION_[A-Z_]+)"', (ROOT / "common/secretbox.h").read_text()))
OWN = {d: table(f"{d}/main.c") for d in DAEMONS}
OWN["cli"] = table("cli/main.c")


def reads(process):
    """Every HOOKLINE_* variable `process` reads, with its default (None: no default)."""
    return {**COMMON, **ENCRYPTION, **OWN[process]}


def test_the_tables_were_found():
    assert "HOOKLINE_DATABASE_URL" in COMMON and "HOOKLINE_ENCRYPTION_KEY" in ENCRYPTION
    for d in DAEMONS:
        assert "HOOKLINE_ADMIN_PORT" in OWN[d], f"{d}/main.c: no config table found"


def readme_names():
    """The names the README documents; `HOOKLINE_A_B` / `_C` in one cell documents
    HOOKLINE_A_C too (the last word replaced)."""
    names = set()
    for line in (ROOT / "README.md").read_text().splitlines():
        for cell in line.split("|"):
            full = None
            for tok in re.findall(r"`(HOOKLINE_[A-Z0-9_]+|_[A-Z0-9_]+)`", cell):
                if tok.startswith("HOOKLINE_"):
                    full = tok
                    names.add(tok)
                elif full:
                    names.add(full.rsplit("_", 1)[0] + tok)
        names.update(re.findall(r"HOOKLINE_[A-Z0-9_]*[A-Z0-9]", line))
    return names


def test_every_variable_is_documented_in_the_readme():
    documented = readme_names()
    missing = sorted({v for p in (*DAEMONS, "cli") for v in reads(p)} - documented)
    assert not missing, f"read by a daemon or the CLI but not in README.md: {missing}"


def check_env(where, process, env, problems):
    known = reads(process)
    for name, value in env.items():
        if not name.startswith("HOOKLINE_") or name.startswith("HOOKLINE_KAFKA_") and name != "HOOKLINE_KAFKA_BROKERS":
            continue
        if name not in known:
            problems.append(f"{where}: sets {name}, which {process} does not read")
        elif name not in DEPLOYMENT_SPECIFIC and value is not None and known[name] is not None \
                and str(value) != known[name] and not name.startswith("HOOKLINE_TOPIC_"):
            problems.append(f"{where}: {name}={value!r}, but {process} defaults to {known[name]!r}")
    for name in REQUIRED | ({"HOOKLINE_ENCRYPTION_KEY"} if process in NEEDS_KEY else set()):
        if name not in env:
            problems.append(f"{where}: {name} is not set")


def test_compose_sets_what_the_services_read():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    problems = []
    for service, spec in compose["services"].items():
        cmd = " ".join(spec.get("command", []) if isinstance(spec.get("command"), list) else [spec.get("command") or ""])
        process = next((d for d in DAEMONS if f"hookline-{d}" in cmd), "cli" if "hookline " in cmd else None)
        if process:
            check_env(f"docker-compose.yml {service}", process, spec.get("environment") or {}, problems)
    assert not problems, "\n".join(problems)


def rendered():
    path = Path(os.environ.get("HOOKLINE_K8S_RENDERED", ROOT / "build/k8s/sasl-scram-values.yaml"))
    if not path.exists():
        pytest.fail(f"{path} is missing: run make k8s-check", pytrace=False)
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_the_chart_sets_what_the_daemons_read():
    problems, seen = [], set()
    for obj in rendered():
        if obj["kind"] not in ("Deployment", "Job"):
            continue
        pod = obj["spec"]["template"]["spec"]
        for c in pod.get("initContainers", []) + pod["containers"]:
            cmd = c["command"][0]
            process = cmd[len("hookline-"):] if cmd.startswith("hookline-") else "cli"
            seen.add(process)
            env = {e["name"]: e.get("value") for e in c.get("env", [])}
            check_env(f"chart {obj['kind']} {obj['metadata']['name']}/{c['name']}", process, env, problems)
    assert seen >= {*DAEMONS, "cli"}, f"the render runs only {sorted(seen)}"
    assert not problems, "\n".join(problems)


def test_compose_and_the_chart_agree_on_the_stages_admin_ports():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for d in DAEMONS:
        assert str(compose[d]["environment"]["HOOKLINE_ADMIN_PORT"]) == OWN[d]["HOOKLINE_ADMIN_PORT"]
    for obj in rendered():
        if obj["kind"] == "Deployment":
            c = obj["spec"]["template"]["spec"]["containers"][0]
            d = c["command"][0][len("hookline-"):]
            env = {e["name"]: e.get("value") for e in c["env"]}
            assert env["HOOKLINE_ADMIN_PORT"] == OWN[d]["HOOKLINE_ADMIN_PORT"], d


def exposed_metrics():
    """hookline_* metric names registered by the daemons (metrics_counter & co.)."""
    names = set()
    for d in DAEMONS:
        for f in (ROOT / d).glob("*.c"):
            text = f.read_text()
            names.update(re.findall(r'"(hookline_[a-z0-9_]+)"', text))
    return names


def test_the_dashboard_uses_only_metrics_the_daemons_expose():
    import json
    dash = json.loads((ROOT / "deploy/grafana/hookline.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    used = {re.sub(r"_(bucket|sum|count)$", "", m) for e in exprs for m in re.findall(r"\b(hookline_[a-z0-9_]+)", e)}
    exposed = exposed_metrics()
    assert used, "no hookline_* metric on the dashboard"
    assert not used - exposed, f"on the dashboard but exposed by no daemon: {sorted(used - exposed)}"
    # Every daemon has a panel, and the ingress's refusals and produce latency are shown.
    for d in DAEMONS:
        assert any(m.startswith(f"hookline_{d}_") for m in used), f"no panel for the {d}"
    assert {"hookline_ingress_refused_total", "hookline_ingress_produce_seconds"} <= used


def test_every_refusal_reason_of_the_ingress_has_a_documented_label():
    """Each refusal carries its reason (enum refusal in ingress/ingress.h, decided with the
    answer): each reason has its label in ingress/http.c, which the README's metrics
    paragraph and the dashboard's panel name."""
    header = (ROOT / "ingress/ingress.h").read_text()
    enum = header[header.index("enum refusal {"):]
    reasons = re.findall(r"^\s*(REFUSED_[A-Z_]+)", enum[:enum.index("};")], re.M)
    assert len(reasons) >= 14, reasons
    http = (ROOT / "ingress/http.c").read_text()
    labels = dict(re.findall(r'\[(REFUSED_[A-Z_]+)\] = "reason=\\"([a-z_]+)\\""', http))
    missing = [r for r in reasons if r != "REFUSED_N" and r not in labels]
    assert not missing, f"no label in ingress/http.c's refusal_labels for {missing}"
    readme = re.sub(r"\s+", " ", (ROOT / "README.md").read_text())
    paragraph = readme[readme.index("(`hookline_ingress_refused_total{reason}`"):][:600]
    import json
    dash = json.loads((ROOT / "deploy/grafana/hookline.json").read_text())
    panel = next(p["description"] for p in dash["panels"]
                 if any("hookline_ingress_refused_total" in t["expr"] for t in p.get("targets", [])))
    for label in set(labels.values()):
        assert f"`{label}`" in paragraph, f"the README's metrics paragraph does not name the reason {label}"
        assert re.search(rf"\b{label}\b", panel), f"the dashboard's refusals panel does not name the reason {label}"
