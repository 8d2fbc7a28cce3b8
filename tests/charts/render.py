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
      The floe-jobs values floe wrote for a built workspace's products
      (each `floe-jobs.values.yaml` under floe-out/), as one values file.
  documents FILE
      The YAML documents of FILE, as a JSON list.
  validate FILE...
      Every YAML document of the FILEs, validated against the Kubernetes 1.33
      schemas (strict) unless its kind is a custom resource the schemas do
      not have; prints `[{file, objects}]` as JSON.
"""

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


def jobs_values(workspace):
    """The floe-jobs values floe wrote for a built workspace's products
    (`floe-jobs.values.yaml` under floe-out/), as one values file."""
    products = []
    for dirpath, _, files in sorted(os.walk(os.path.join(workspace, "floe-out"))):
        if "floe-jobs.values.yaml" in files:
            products += load_values(os.path.join(dirpath, "floe-jobs.values.yaml"))["products"]
    products.sort(key=lambda p: (p["domain"], p["name"]))
    yaml.add_representer(str, block_strings, Dumper=yaml.SafeDumper)
    yaml.safe_dump({"products": products}, sys.stdout, sort_keys=False, width=1000)


def documents(path):
    """The YAML documents of a file, as JSON (what floe's `k8s.yaml` holds)."""
    with open(path, encoding="utf-8") as f:
        json.dump([d for d in yaml.safe_load_all(f) if d is not None], sys.stdout, indent=1, sort_keys=True)


def validate_files(paths):
    out = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            objects = [d for d in yaml.safe_load_all(f) if d is not None]
        for obj in objects:
            try:
                kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
            except kubernetes_validate.SchemaNotFoundError:
                group = obj.get("apiVersion", "").rpartition("/")[0]
                if group == "" or group.endswith(".k8s.io") or "." not in group:
                    fail(f"{path}: no schema for the built-in {obj.get('apiVersion')} {obj.get('kind')}")
            except kubernetes_validate.ValidationError as e:
                where = ".".join(str(p) for p in e.path)
                fail(f"{path}: {obj.get('kind')}/{obj.get('metadata', {}).get('name')}: {where}: {e.message}")
        out.append({"file": path, "objects": objects})
    json.dump(out, sys.stdout, indent=1, sort_keys=True)


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
    elif len(argv) == 3 and argv[1] == "documents":
        documents(argv[2])
    elif len(argv) >= 3 and argv[1] == "validate":
        validate_files(argv[2:])
    else:
        fail(__doc__)


if __name__ == "__main__":
    main(sys.argv)
