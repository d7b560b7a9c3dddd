"""Structural checks of a rendered hookline chart (make k8s-check), for what no schema
holds: KEDA's ScaledObjects and TriggerAuthentication, and the chart's own promises.

    check_rendered.py build/k8s/NAME.yaml [VALUES...]     exit 1 with one line per problem

VALUES: the chart's values.yaml then the ci file it was rendered with; with them the
render is also held to what they configure (which autoscalers, the ServiceMonitor, KEDA's
SASL mechanism, the brokers' ports).
"""
import re
import sys

import yaml

STAGES = ("ingress", "router", "forwarder", "syncer", "api")  # the api when api.enabled (every CI values file)
CONSUMERS = {"router": ("HOOKLINE_ROUTER_GROUP", ["raw"]),
             "forwarder": ("HOOKLINE_FORWARDER_GROUP", ["routed", "notifications"]),
             "syncer": ("HOOKLINE_SYNCER_GROUP", ["routed"])}
TOPIC_ENV = {"raw": "HOOKLINE_TOPIC_RAW", "routed": "HOOKLINE_TOPIC_ROUTED",
             "notifications": "HOOKLINE_TOPIC_NOTIFICATIONS"}
# KEDA's Kafka scaler's `sasl` values (pkg/scalers/kafka_scaler.go) for librdkafka's
# sasl.mechanisms, and its `tls` values.
KEDA_SASL = {"PLAIN": "plaintext", "SCRAM-SHA-256": "scram_sha256", "SCRAM-SHA-512": "scram_sha512",
             "OAUTHBEARER": "oauthbearer", "GSSAPI": "gssapi"}
KEDA_SASL_ACCEPTED = {"none", *KEDA_SASL.values()}
problems = []


def problem(what):
    problems.append(what)


def env_of(container):
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def merged(files):
    """The values files deep-merged, later ones winning (as helm -f does)."""
    def merge(a, b):
        for k, v in b.items():
            a[k] = merge(a.get(k, {}), v) if isinstance(v, dict) and isinstance(a.get(k), dict) else v
        return a
    out = {}
    for f in files:
        merge(out, yaml.safe_load(open(f)) or {})
    return out


def main(path, values_files):
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    by_kind = {}
    for d in docs:
        if d["metadata"]["name"] in by_kind.get(d["kind"], {}):
            problem(f"two {d['kind']} objects named {d['metadata']['name']}")
        by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    values = merged(values_files) if values_files else None
    deps = by_kind.get("Deployment", {})
    stage_dep = {}
    for name, d in deps.items():
        stage = d["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component")
        stage_dep[stage] = d
    if sorted(stage_dep) != sorted(STAGES):
        problem(f"Deployments for {sorted(stage_dep)}, expected one per stage {STAGES}")

    # Partitions per topic role, as the migrations Job creates them (when it does).
    partitions = {}
    for job in by_kind.get("Job", {}).values():
        ann = job["metadata"].get("annotations", {})
        if "pre-install" not in ann.get("helm.sh/hook", "") or "pre-upgrade" not in ann.get("helm.sh/hook", ""):
            problem(f"Job {job['metadata']['name']} is not a pre-install,pre-upgrade hook")
        pod = job["spec"]["template"]["spec"]
        cmds = [c["command"] for c in pod.get("initContainers", []) + pod["containers"]]
        if ["hookline", "migrate"] not in cmds:
            problem(f"Job {job['metadata']['name']} does not run `hookline migrate`: {cmds}")
        for cmd in cmds:
            for arg in cmd:
                m = re.match(r"--topic=([a-z-]+):partitions=(\d+)", arg)
                if m:
                    partitions[m.group(1)] = int(m.group(2))
        check_pod(f"Job {job['metadata']['name']}", pod)
    if len(by_kind.get("Job", {})) != 1:
        problem(f"Jobs {sorted(by_kind.get('Job', {}))}, expected the one migrations Job")

    secrets = set(by_kind.get("Secret", {}))
    for stage, d in stage_dep.items():
        check_deployment(stage, d, by_kind)

    scaled = by_kind.get("ScaledObject", {})
    auths = by_kind.get("TriggerAuthentication", {})
    for name, so in scaled.items():
        check_scaled_object(name, so, stage_dep, auths, partitions)
    scaled_stages = {so["spec"]["scaleTargetRef"]["name"] for so in scaled.values()}
    for name, ta in auths.items():
        for ref in ta["spec"].get("secretTargetRef", []):
            if ref["parameter"] not in ("sasl", "tls", "username", "password", "ca", "cert", "key"):
                problem(f"TriggerAuthentication {name}: unknown parameter {ref['parameter']!r}")
            chart_made = ref["name"].endswith("-secrets") or ref["name"].endswith("-keda-kafka")
            if chart_made and ref["name"] not in secrets:
                problem(f"TriggerAuthentication {name}: the chart's Secret {ref['name']} is not rendered")
    for hpa in by_kind.get("HorizontalPodAutoscaler", {}).values():
        target = hpa["spec"]["scaleTargetRef"]["name"]
        if target not in deps or target in scaled_stages:
            problem(f"HPA {hpa['metadata']['name']} targets {target}: not a Deployment, or KEDA scales it too")
        if not target.endswith("-ingress"):
            problem(f"HPA {hpa['metadata']['name']} targets {target}: only the ingress scales on CPU")
    for d in deps.values():
        n = d["metadata"]["name"]
        scaled_here = n in scaled_stages or any(h["spec"]["scaleTargetRef"]["name"] == n
                                                for h in by_kind.get("HorizontalPodAutoscaler", {}).values())
        if scaled_here and "replicas" in d["spec"]:
            problem(f"Deployment {n} sets replicas although an autoscaler owns them")
        if not scaled_here and "replicas" not in d["spec"]:
            problem(f"Deployment {n} has no replicas and no autoscaler")
    pdb_targets = [p["spec"]["selector"]["matchLabels"].get("app.kubernetes.io/component")
                   for p in by_kind.get("PodDisruptionBudget", {}).values()]
    if sorted(pdb_targets) != sorted(STAGES):
        problem(f"PodDisruptionBudgets for {pdb_targets}, expected one per stage")
    check_service_monitors(by_kind, stage_dep, values)
    if values:
        check_against_values(values, by_kind, stage_dep)


def component(obj):
    return obj["metadata"].get("labels", {}).get("app.kubernetes.io/component")


def check_service_monitors(by_kind, stage_dep, values):
    """Each ServiceMonitor scrapes /metrics on the admin port of every daemon: its selector
    picks Services that exist, carry the metrics label, have that port, and select the
    daemons' pods."""
    monitors = by_kind.get("ServiceMonitor", {})
    if values is not None and bool(monitors) != bool(values["serviceMonitor"]["enabled"]):
        problem(f"ServiceMonitors {sorted(monitors)} but serviceMonitor.enabled is {values['serviceMonitor']['enabled']}")
    for name, sm in monitors.items():
        if sm.get("apiVersion") != "monitoring.coreos.com/v1":
            problem(f"ServiceMonitor {name}: apiVersion {sm.get('apiVersion')}")
        want = sm["spec"].get("selector", {}).get("matchLabels", {})
        if not want or sm["spec"]["selector"].get("matchExpressions"):
            problem(f"ServiceMonitor {name}: selector {sm['spec'].get('selector')} is not plain matchLabels")
        if want.get("hookline.dev/metrics") != "true":
            problem(f"ServiceMonitor {name}: does not select on the metrics label hookline.dev/metrics")
        picked = [s for s in by_kind.get("Service", {}).values()
                  if all(s["metadata"].get("labels", {}).get(k) == v for k, v in want.items())]
        if sorted(component(s) for s in picked) != sorted(stage_dep):
            problem(f"ServiceMonitor {name}: selects the Services of {sorted(component(s) for s in picked)}, "
                    f"expected one per daemon {sorted(stage_dep)}")
        endpoints = sm["spec"].get("endpoints", [])
        if not endpoints:
            problem(f"ServiceMonitor {name}: no endpoints")
        for ep in endpoints:
            if ep.get("path") != "/metrics":
                problem(f"ServiceMonitor {name}: path {ep.get('path')!r}, the daemons serve /metrics")
            for s in picked:
                port = next((p for p in s["spec"]["ports"] if p.get("name") == ep.get("port")), None)
                if port is None or port.get("targetPort") != "admin":
                    problem(f"ServiceMonitor {name}: Service {s['metadata']['name']} has no port "
                            f"{ep.get('port')!r} onto the pods' admin port")
        for s in picked:
            d = stage_dep.get(component(s))
            pod_labels = d["spec"]["template"]["metadata"]["labels"] if d else {}
            if not s["spec"].get("selector") or any(pod_labels.get(k) != v for k, v in s["spec"]["selector"].items()):
                problem(f"ServiceMonitor {name}: Service {s['metadata']['name']} does not select its daemon's pods")


def egress_ports(policy):
    """The TCP ports a NetworkPolicy lets its pods reach (rules without `to`: any address)."""
    return {p["port"] for r in policy["spec"].get("egress", []) if not r.get("to")
            for p in r.get("ports", []) if p.get("protocol", "TCP") == "TCP"}


def check_against_values(values, by_kind, stage_dep):
    """The render holds what the values configure: the autoscalers the issue promises, KEDA's
    login as the daemons', the network policies open to the brokers and key servers."""
    want_daemons = {"ingress", "router", "forwarder", "syncer"} | ({"api"} if values["api"]["enabled"] else set())
    if set(stage_dep) != want_daemons:
        problem(f"Deployments for {sorted(stage_dep)}, the values enable {sorted(want_daemons)}")
    want_keda = sorted(s for s in CONSUMERS if values[s]["autoscaling"]["enabled"])
    scaled = by_kind.get("ScaledObject", {})
    got_keda = sorted(component(so) for so in scaled.values())
    if got_keda != want_keda:
        problem(f"ScaledObjects for {got_keda}, expected exactly one per autoscaled consuming stage {want_keda}")
    hpas = by_kind.get("HorizontalPodAutoscaler", {})
    want_hpa = ["ingress"] if values["ingress"]["autoscaling"]["enabled"] else []
    if sorted(component(h) for h in hpas.values()) != want_hpa:
        problem(f"HPAs {sorted(hpas)}, expected {want_hpa}")

    kafka = values["kafka"]
    sasl_on = kafka["securityProtocol"].startswith("SASL")
    tls_on = kafka["securityProtocol"] in ("SSL", "SASL_SSL")
    auths = by_kind.get("TriggerAuthentication", {})
    if bool(scaled) != bool(auths):
        problem(f"ScaledObjects {sorted(scaled)} but TriggerAuthentications {sorted(auths)}")
    secrets = by_kind.get("Secret", {})
    for name, ta in auths.items():
        refs = {r["parameter"]: r for r in ta["spec"].get("secretTargetRef", [])}
        for param in ("sasl", "tls"):
            ref = refs.get(param)
            if not ref:
                problem(f"TriggerAuthentication {name}: no {param} parameter")
                continue
            sec = secrets.get(ref["name"])
            got = (sec or {}).get("stringData", {}).get(ref["key"])
            if param == "sasl":
                want = KEDA_SASL.get(kafka["sasl"]["mechanism"].upper(), "?") if sasl_on else "none"
                if got not in KEDA_SASL_ACCEPTED or got != want:
                    problem(f"TriggerAuthentication {name}: sasl {got!r}, KEDA needs {want!r} for "
                            f"{kafka['securityProtocol']} {kafka['sasl']['mechanism']} (it accepts {sorted(KEDA_SASL_ACCEPTED)})")
            elif got != ("enable" if tls_on else "disable"):
                problem(f"TriggerAuthentication {name}: tls {got!r} for {kafka['securityProtocol']}")
        if sasl_on != ("username" in refs and "password" in refs):
            problem(f"TriggerAuthentication {name}: username/password {sorted(refs)} for {kafka['securityProtocol']}")
        ca = kafka["tls"].get("caSecret")
        ca_ref = refs.get("ca")
        if bool(ca) != bool(ca_ref) or (ca and (ca_ref["name"], ca_ref["key"]) != (ca, kafka["tls"]["caKey"])):
            problem(f"TriggerAuthentication {name}: ca {ca_ref} but kafka.tls.caSecret {ca!r} key {kafka['tls'].get('caKey')!r}")
        cert = kafka["tls"].get("clientCertSecret")
        if bool(cert) != ("cert" in refs and "key" in refs):
            problem(f"TriggerAuthentication {name}: cert/key {sorted(refs)} but kafka.tls.clientCertSecret {cert!r}")

    policies = by_kind.get("NetworkPolicy", {})
    np = values["networkPolicy"]
    if bool(policies) != bool(np["enabled"]):
        problem(f"NetworkPolicies {sorted(policies)} but networkPolicy.enabled is {np['enabled']}")
    broker_ports = set()
    for server in kafka["bootstrapServers"].split(","):
        m = re.fullmatch(r"\s*(?:[A-Za-z]+://)?(?:\[[^\]]+\]|[^:\s]+):(\d+)\s*", server)
        if m:
            broker_ports.add(int(m.group(1)))
    for name, pol in policies.items():
        ports = egress_ports(pol)
        if not broker_ports <= ports:
            problem(f"NetworkPolicy {name}: egress to the bootstrap servers' ports {sorted(broker_ports - ports)} "
                    f"is not allowed (networkPolicy.kafkaPorts)")
        # https for providers' published keys (common/remote_keys.c); no CI file turns it off.
        if component(pol) == "ingress" and not {443, *(np.get("ingressOutboundPorts") or [])} <= ports:
            problem(f"NetworkPolicy {name}: the ingress cannot fetch providers' keys over https "
                    f"(networkPolicy.ingressOutboundPorts {np.get('ingressOutboundPorts')})")


def check_pod(what, pod):
    psc = pod.get("securityContext", {})
    if not psc.get("runAsNonRoot"):
        problem(f"{what}: runAsNonRoot is not set")
    if pod.get("automountServiceAccountToken") is not False:
        problem(f"{what}: mounts a service account token it does not need")
    for c in pod.get("initContainers", []) + pod["containers"]:
        sc = c.get("securityContext", {})
        if sc.get("allowPrivilegeEscalation") is not False or sc.get("readOnlyRootFilesystem") is not True \
                or "ALL" not in sc.get("capabilities", {}).get("drop", []):
            problem(f"{what}/{c['name']}: security context is not non-root, read-only, no escalation, drop ALL")
        for e in c.get("env", []):
            if re.match(r"HOOKLINE_(DATABASE_URL|KAFKA_SASL_PASSWORD|ENCRYPTION_KEY)$", e["name"]) \
                    and "value" in e:
                problem(f"{what}/{c['name']}: {e['name']} is a literal, not a Secret reference")


def check_deployment(stage, d, by_kind):
    pod = d["spec"]["template"]["spec"]
    check_pod(f"Deployment {stage}", pod)
    c = pod["containers"][0]
    env = env_of(c)
    if c.get("command") != [f"hookline-{stage}"]:
        problem(f"{stage}: command {c.get('command')}")
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    if str(ports.get("admin")) != env.get("HOOKLINE_ADMIN_PORT") or env.get("HOOKLINE_ADMIN_BIND") != "0.0.0.0":
        problem(f"{stage}: the admin port {ports.get('admin')} is not where the daemon listens "
                f"({env.get('HOOKLINE_ADMIN_BIND')}:{env.get('HOOKLINE_ADMIN_PORT')})")
    if c.get("readinessProbe", {}).get("httpGet") != {"path": "/readyz", "port": "admin"}:
        problem(f"{stage}: readiness is not /readyz on the admin port")
    if c.get("livenessProbe", {}).get("httpGet") != {"path": "/healthz", "port": "admin"}:
        problem(f"{stage}: liveness is not /healthz on the admin port")
    # SIGTERM drains: the pod must be given longer than the drain can take.
    grace = pod.get("terminationGracePeriodSeconds", 30)
    drain = {"forwarder": int(env.get("HOOKLINE_FORWARDER_DRAIN_MS", "10000")) / 1000,
             "ingress": int(env.get("HOOKLINE_INGRESS_KAFKA_TIMEOUT_MS", "10000")) / 1000}.get(stage, 10)
    pre = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", ["", "0"])
    drain += float(pre[-1]) if pre[0] == "sleep" else 0
    if grace <= drain:
        problem(f"{stage}: terminationGracePeriodSeconds {grace} is not longer than its drain ({drain:g} s)")
    if stage == "ingress":
        if str(ports.get("http")) != env.get("HOOKLINE_INGRESS_PORT") or env.get("HOOKLINE_INGRESS_BIND") != "0.0.0.0":
            problem("ingress: the http port is not where the daemon listens")
        svc = [s for s in by_kind.get("Service", {}).values()
               if s["spec"]["selector"].get("app.kubernetes.io/component") == "ingress"
               and any(p.get("targetPort") == "http" for p in s["spec"]["ports"])]
        if not svc:
            problem("ingress: no Service for the webhook port")
    if stage == "api":
        if str(ports.get("http")) != env.get("HOOKLINE_API_PORT") or env.get("HOOKLINE_API_BIND") != "0.0.0.0":
            problem("api: the http port is not where the daemon listens")
        svc = [s for s in by_kind.get("Service", {}).values()
               if s["spec"]["selector"].get("app.kubernetes.io/component") == "api"
               and any(p.get("targetPort") == "http" for p in s["spec"]["ports"])]
        if not svc:
            problem("api: no Service for the API and console port")
        pol = [n for n in by_kind.get("NetworkPolicy", {}).values()
               if n["spec"]["podSelector"]["matchLabels"].get("app.kubernetes.io/component") == "api"]
        if by_kind.get("NetworkPolicy") and not any(
                {"port": "http", "protocol": "TCP"} in r.get("ports", []) for n in pol for r in n["spec"]["ingress"]):
            problem("api: the NetworkPolicy lets nobody reach the API port")
    if "HOOKLINE_ENCRYPTION_KEY" not in env:  # every stage reads secrets (the router: connections')
        problem(f"{stage}: has no HOOKLINE_ENCRYPTION_KEY")


def check_scaled_object(name, so, stage_dep, auths, partitions):
    spec = so["spec"]
    if so.get("apiVersion") != "keda.sh/v1alpha1":
        problem(f"ScaledObject {name}: apiVersion {so.get('apiVersion')}")
    ref = spec.get("scaleTargetRef", {})
    stage = next((s for s, d in stage_dep.items() if d["metadata"]["name"] == ref.get("name")), None)
    if stage not in CONSUMERS:
        problem(f"ScaledObject {name}: targets {ref.get('name')!r}, not a consuming stage's Deployment")
        return
    if ref.get("kind", "Deployment") != "Deployment" or ref.get("apiVersion", "apps/v1") != "apps/v1":
        problem(f"ScaledObject {name}: scaleTargetRef is not an apps/v1 Deployment")
    lo, hi = spec.get("minReplicaCount"), spec.get("maxReplicaCount")
    if not (isinstance(lo, int) and isinstance(hi, int) and 0 <= lo <= hi):
        problem(f"ScaledObject {name}: minReplicaCount {lo} / maxReplicaCount {hi}")
    for k in ("pollingInterval", "cooldownPeriod"):
        if k in spec and not (isinstance(spec[k], int) and spec[k] > 0):
            problem(f"ScaledObject {name}: {k} {spec[k]!r}")
    env = env_of(stage_dep[stage]["spec"]["template"]["spec"]["containers"][0])
    group_var, roles = CONSUMERS[stage]
    triggers = spec.get("triggers", [])
    want_topics = {env.get(TOPIC_ENV[r]) for r in roles}
    got_topics = set()
    for t in triggers:
        md = t.get("metadata", {})
        if t.get("type") != "kafka":
            problem(f"ScaledObject {name}: trigger type {t.get('type')!r}, expected kafka")
            continue
        for k in ("bootstrapServers", "consumerGroup", "topic", "lagThreshold"):
            if not isinstance(md.get(k), str) or not md.get(k):
                problem(f"ScaledObject {name}: trigger metadata {k} missing or not a string")
        if md.get("bootstrapServers") != env.get("HOOKLINE_KAFKA_BROKERS"):
            problem(f"ScaledObject {name}: bootstrapServers differ from the daemon's HOOKLINE_KAFKA_BROKERS")
        if md.get("consumerGroup") != env.get(group_var):
            problem(f"ScaledObject {name}: consumerGroup {md.get('consumerGroup')!r} is not the daemon's "
                    f"{group_var} {env.get(group_var)!r}")
        if not str(md.get("lagThreshold", "")).isdigit() or int(md["lagThreshold"]) < 1:
            problem(f"ScaledObject {name}: lagThreshold {md.get('lagThreshold')!r}")
        if md.get("offsetResetPolicy") not in (None, "earliest"):
            problem(f"ScaledObject {name}: offsetResetPolicy must match the daemons' earliest")
        auth = t.get("authenticationRef", {}).get("name")
        if auth and auth not in auths:
            problem(f"ScaledObject {name}: authenticationRef {auth} is not rendered")
        if env.get("HOOKLINE_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT") != "PLAINTEXT" and not auth:
            problem(f"ScaledObject {name}: the cluster needs credentials but the trigger has no authenticationRef")
        got_topics.add(md.get("topic"))
    if got_topics != want_topics:
        problem(f"ScaledObject {name}: triggers on {sorted(got_topics)}, the daemon consumes {sorted(want_topics)}")
    # More busy members than partitions is impossible: the maximum follows the partitions.
    for r in roles[:1]:
        if r in partitions and isinstance(hi, int) and hi > partitions[r]:
            problem(f"ScaledObject {name}: maxReplicaCount {hi} is more than the {partitions[r]} partitions of {r}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
    for p in problems:
        print(f"{sys.argv[1]}: {p}")
    sys.exit(1 if problems else 0)
