"""Renders floe's Helm charts through the Helm v4 engine and checks what comes out.

Run by tests/charts.rs with the test venv's Python (helm-python-sdk and
kubernetes-validate installed). Subcommands:

  check CHART RELEASE NAMESPACE VALUES...
      For each values file: `helm lint --strict` (Kubernetes 1.33) and
      `helm template` (the chart rendered, hooks included, and an install's
      client-side dry run), all enforcing values.schema.json; rendering twice
      gives the same bytes; every object validates against the Kubernetes
      1.33 schemas (strict: unknown fields are errors); every pod template
      meets Pod Security `restricted`, with a read-only root filesystem
      unless the chart's README names the container as an exception. Prints
      a JSON summary of the objects.
  template CHART VALUES
      Renders CHART once per product of VALUES (a floe-jobs values file),
      with only that product, schema enforced; every object validates against
      the Kubernetes 1.33 schemas. Prints `[{product, objects}]` as JSON, the
      objects in the order Helm renders them.
  reject CHART VALUES
      Renders VALUES, which the chart's schema must refuse; prints Helm's message.
  jobs-values WORKSPACE
      The floe-jobs values of a built workspace's products, as YAML, from
      what floe wrote under floe-out/.
"""

import ast
import json
import os
import re
import sys

import helm_python as helm
import kubernetes_validate
import yaml

KUBE_VERSION = "1.33.0"
POD_KINDS = {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"}
RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
JOB_LABELS = [
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/name",
    "app.kubernetes.io/part-of",
    "floe.dev/product",
    "floe.dev/domain",
]


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)


def load_values(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f) or {}


def pod_spec(obj):
    """The pod spec of an object that runs pods."""
    spec = obj.get("spec", {})
    kind = obj["kind"]
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        return spec["jobTemplate"]["spec"]["template"]["spec"]
    return spec["template"]["spec"]


def restricted_problems(obj, writable):
    """What keeps the object's pods from Pod Security `restricted` (and from a
    read-only root filesystem, unless the container is listed in `writable`)."""
    where = f"{obj['kind']}/{obj['metadata']['name']}"
    spec = pod_spec(obj)
    problems = []
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key):
            problems.append(f"{where}: {key}")
    pod_sc = spec.get("securityContext", {})
    for volume in spec.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUMES:
            problems.append(f"{where}: volume {volume['name']} is {sorted(kinds)}")
    containers = spec.get("containers", []) + spec.get("initContainers", [])
    if not containers:
        problems.append(f"{where}: no containers")
    for c in containers:
        sc = c.get("securityContext", {})
        at = f"{where} container {c['name']}"
        if sc.get("privileged"):
            problems.append(f"{at}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{at}: allowPrivilegeEscalation is not false")
        if not (sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True):
            problems.append(f"{at}: runAsNonRoot is not true")
        if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
            problems.append(f"{at}: runs as root")
        seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {})).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{at}: seccomp profile {seccomp}")
        caps = sc.get("capabilities", {})
        if "ALL" not in caps.get("drop", []):
            problems.append(f"{at}: capabilities not all dropped")
        if set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
            problems.append(f"{at}: adds capabilities {caps['add']}")
        for port in c.get("ports", []):
            if port.get("hostPort"):
                problems.append(f"{at}: host port")
        if sc.get("readOnlyRootFilesystem") is not True and f"{obj['metadata']['name']}/{c['name']}" not in writable:
            problems.append(f"{at}: root filesystem is writable")
    return problems


def canonical(obj):
    return json.dumps(obj, sort_keys=True)


def objects_of(manifests):
    """The objects of rendered templates, by template, in a stable order."""
    out = []
    for template in sorted(manifests):
        if template.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(manifests[template]):
            if doc:
                out.append((template, doc))
    return out


def check(chart_dir, release_name, namespace, values_files):
    readme = os.path.join(chart_dir, "README.md")
    # Containers whose image writes to its root filesystem, as the chart's
    # README lists them (`name/container` in backticks on "writable root" lines).
    writable = set()
    if os.path.exists(readme):
        with open(readme, encoding="utf-8") as f:
            for line in f:
                if "writable root" in line:
                    writable.update(re.findall(r"`([a-z0-9-]+/[a-z0-9-]+)`", line))
    summary = []
    with helm.Chart.load(chart_dir) as chart:
        for values_file in values_files:
            values = load_values(values_file)
            report = helm.lint(chart_dir, values, strict=True, namespace=namespace, kube_version="v" + KUBE_VERSION)
            findings = [m for m in report["messages"] if m["severity"] >= 2]
            if findings or report["errors"]:
                fail(f"helm lint of {chart_dir} with {values_file}:\n{json.dumps(report, indent=2)}")
            manifests = chart.render(values, name=release_name, namespace=namespace, is_install=True)
            again = chart.render(values, name=release_name, namespace=namespace, is_install=True)
            if manifests != again:
                fail(f"{chart_dir} with {values_file} renders differently twice")
            # An install's client-side dry run (what `helm template` runs)
            # renders the same objects, hooks aside.
            with helm.Config(namespace=namespace) as config:
                release = config.install(chart_dir, release_name, values, namespace=namespace, dry_run="client")
            installed = [doc for doc in yaml.safe_load_all(release["manifest"]) if doc]
            rendered = [o for _, o in objects_of(manifests) if "helm.sh/hook" not in o["metadata"].get("annotations", {})]
            if sorted(map(canonical, installed)) != sorted(map(canonical, rendered)):
                fail(f"{chart_dir} with {values_file}: an install's dry run renders other objects than the chart")
            problems = []
            objects = []
            for template, obj in objects_of(manifests):
                try:
                    kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
                except kubernetes_validate.ValidationError as e:
                    path = ".".join(str(p) for p in e.path)
                    problems.append(f"{template}: {obj['kind']}/{obj['metadata']['name']}: {path}: {e.message}")
                except kubernetes_validate.SchemaNotFoundError as e:
                    problems.append(f"{template}: {e.message}")
                if obj["kind"] in POD_KINDS:
                    problems.extend(restricted_problems(obj, writable))
                meta = obj["metadata"]
                objects.append(
                    {
                        "template": template,
                        "kind": obj["kind"],
                        "name": meta["name"],
                        "namespace": meta.get("namespace"),
                        "labels": meta.get("labels", {}),
                        "annotations": meta.get("annotations", {}),
                        "object": obj,
                    }
                )
            if problems:
                fail(f"{chart_dir} with {values_file}:\n" + "\n".join(problems))
            summary.append({"values": values_file, "objects": objects})
    json.dump(summary, sys.stdout, indent=1, sort_keys=True)


def validate(obj):
    """Fails unless `obj` is a valid Kubernetes 1.33 object (unknown fields too)."""
    try:
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        path = ".".join(str(p) for p in e.path)
        fail(f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}: {path}: {e.message}")


def template(chart_dir, values_file):
    out = []
    with helm.Chart.load(chart_dir) as chart:
        for product in load_values(values_file).get("products", []):
            manifests = chart.render({"products": [product]}, name="floe-jobs", namespace="floe", is_install=True)
            objects = [o for _, o in objects_of(manifests)]
            for obj in objects:
                validate(obj)
            out.append({"product": product, "objects": objects})
    json.dump(out, sys.stdout, indent=1, sort_keys=True)


def reject(chart_dir, values_file):
    values = load_values(values_file)
    with helm.Chart.load(chart_dir) as chart:
        try:
            chart.render(values, name="floe-test", namespace="floe-test", is_install=True)
        except helm.HelmValuesError as e:
            print(str(e))
            return
    fail(f"{chart_dir} rendered {values_file}, which its schema should refuse")


def secret_env(product_dir):
    """The secret environment of a product's runs, `{name, secretName, key}`,
    from its orchestration: Dagster's `SECRET_ENV` or Airflow's `SECRETS`."""
    out = []
    for root, _, files in sorted(os.walk(product_dir)):
        for file in sorted(files):
            if not file.endswith(".py"):
                continue
            with open(os.path.join(root, file), encoding="utf-8") as f:
                tree = ast.parse(f.read())
            for node in tree.body:
                target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
                if not isinstance(target, ast.Name) or node.value is None:
                    continue
                if target.id == "SECRET_ENV" and isinstance(node.value, ast.Dict):
                    for name, (secret, key) in ast.literal_eval(node.value).items():
                        out.append({"name": name, "secretName": secret, "key": key})
                if target.id == "SECRETS" and isinstance(node.value, ast.List):
                    for call in node.value.elts:
                        _, name, secret, key = (ast.literal_eval(a) for a in call.args)
                        out.append({"name": name, "secretName": secret, "key": key})
    return sorted(out, key=lambda e: e["name"])


def jobs_values(workspace):
    """What floe's `:k8s` target will write, from a build's outputs: per
    product its identity, schedule, artifacts, environment and resources."""
    out_dir = os.path.join(workspace, "floe-out")
    with open(os.path.join(workspace, "manifest.yaml"), encoding="utf-8") as f:
        root = yaml.safe_load(f)
    presets = root.get("resource_presets") or {}
    products = []
    for dirpath, _, files in sorted(os.walk(out_dir)):
        if "compiled_artifacts.json" not in files:
            continue
        rel = os.path.relpath(dirpath, out_dir)
        with open(os.path.join(dirpath, "compiled_artifacts.json"), encoding="utf-8") as f:
            artifacts_text = f.read()
        with open(os.path.join(dirpath, "profiles.yml"), encoding="utf-8") as f:
            profile_text = f.read()
        with open(os.path.join(dirpath, "floe.drv.json"), encoding="utf-8") as f:
            drvs = json.load(f)["derivations"]
        with open(os.path.join(workspace, rel, "floe.yaml"), encoding="utf-8") as f:
            spec = yaml.safe_load(f)
        artifacts = json.loads(artifacts_text)
        name = artifacts["metadata"]["product_name"]
        version = artifacts["metadata"]["product_version"]
        domain = artifacts["identity"]["domain"] or root["metadata"]["name"]
        key = next(d["key"] for d in drvs if d["target"].endswith(":artifacts"))
        telemetry = artifacts["observability"]["telemetry"]
        env = []
        if telemetry.get("enabled"):
            attributes = telemetry["resource_attributes"]
            env += [
                {"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": telemetry["otlp_endpoint"]},
                {"name": "OTEL_EXPORTER_OTLP_PROTOCOL", "value": telemetry["otlp_protocol"]},
                {"name": "OTEL_SERVICE_NAME", "value": attributes["service_name"]},
                {
                    "name": "OTEL_RESOURCE_ATTRIBUTES",
                    "value": ",".join(f"{k.replace('_', '.')}={v}" for k, v in sorted(attributes.items())),
                },
            ]
        observability = artifacts["observability"]
        if observability.get("lineage") and observability.get("lineage_endpoint"):
            env += [
                {"name": "OPENLINEAGE_URL", "value": observability["lineage_endpoint"].removesuffix("/api/v1/lineage")},
                {"name": "OPENLINEAGE_NAMESPACE", "value": observability["lineage_namespace"]},
            ]
        schedule = spec.get("schedule")
        preset = presets.get("small")
        if preset:
            resources = {
                "requests": {"cpu": preset["cpu_request"], "memory": preset["memory_request"]},
                "limits": {"cpu": preset["cpu_limit"], "memory": preset["memory_limit"]},
            }
        else:
            resources = {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
        products.append(
            {
                "name": name,
                "domain": domain,
                "namespace": f"floe-{domain}",
                "version": version,
                "derivation": key,
                "schedule": (
                    {"cron": schedule["cron"], "timezone": schedule.get("timezone")}
                    if schedule and schedule.get("cron") and schedule.get("enabled", True)
                    else None
                ),
                "image": {"repository": f"registry.acme.example/floe/{domain}/{name}", "tag": version},
                "command": ["dbt", "build"],
                "args": ["--project-dir", ".", "--profiles-dir", "/opt/floe/artifacts", "--target", "dev"],
                "serviceAccountName": name,
                "artifacts": {"compiled_artifacts.json": artifacts_text, "profiles.yml": profile_text},
                "secretEnv": secret_env(dirpath),
                "env": env,
                "resources": resources,
            }
        )
    products.sort(key=lambda p: (p["domain"], p["name"]))
    yaml.add_representer(str, block_strings, Dumper=yaml.SafeDumper)
    yaml.safe_dump({"products": products}, sys.stdout, sort_keys=False, width=1000)


def block_strings(dumper, text):
    """Files as YAML block scalars, so that the values read like the files."""
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


def main(argv):
    if len(argv) >= 5 and argv[1] == "check":
        check(argv[2], argv[3], argv[4], argv[5:])
    elif len(argv) == 4 and argv[1] == "template":
        template(argv[2], argv[3])
    elif len(argv) == 4 and argv[1] == "reject":
        reject(argv[2], argv[3])
    elif len(argv) == 3 and argv[1] == "jobs-values":
        jobs_values(argv[2])
    else:
        fail(__doc__)


if __name__ == "__main__":
    main(sys.argv)
