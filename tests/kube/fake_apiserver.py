#!/usr/bin/env python3
"""A small fake Kubernetes API server for floe's tests (Python 3.11, stdlib only).

No real API server can be installed on the test machines, so this one speaks
the part of the Kubernetes API that floe and `kubectl` use, over real HTTP
(or HTTPS), reached through a real kubeconfig:

- discovery: /version, /api, /apis, /api/v1, /apis/<group>/<version>, in the
  legacy formats and the aggregated one (apidiscovery.k8s.io/v2), and the
  OpenAPI documents kubectl reads to decide on server-side field validation;
- GET, LIST (label and field selectors, pagination), WATCH;
- server-side apply (PATCH application/apply-patch+yaml, YAML or JSON) with
  managed fields, conflicts between field managers and `force`; JSON merge,
  strategic merge (approximated as JSON merge) and JSON patches; POST, PUT,
  DELETE (and delete-collection); `dryRun=All` on every write;
- errors as `Status` objects (404, 409 AlreadyExists and Conflict, 422
  Invalid, 400, 401, 403, 415); bearer-token and client-certificate auth
  (credentials are checked only when configured: Kubernetes clients send
  them over TLS only); `fieldValidation` (unknown top-level fields are
  dropped with a warning, or refused when Strict);
- CustomResourceDefinitions: applying one serves its resource (the
  ExternalSecret one is installed at start unless --bare);
- finalizers: an object that has some is only marked deleted until a client
  removes them.

It is not Kubernetes: no admission, no defaulting (a namespace gets its
phase and name label, a Secret's stringData is folded into data), no
controllers (a Deployment never gets pods or a status), no garbage
collector (owner references are kept, never followed), a namespace and its
contents go at once (no Terminating phase without finalizers), no
subresources (status, scale), and protobuf bodies (kubectl's typed
commands, such as `kubectl create configmap`) are refused with 415.
Validation covers names, labels, annotations, ConfigMap and Secret keys and
a few immutable fields, not the types' schemas. Server-side apply is
approximated: every map is granular, every list atomic (no merge keys), and
a manager owns the leaves it applied.

Everything is in memory and deterministic: uids, timestamps and resource
versions come from counters, so two runs of the same requests answer alike.

Every API request is recorded (method, path, query, body size, answer, and
whether it changed what is stored) in memory and, with --log, as JSON lines,
each when it is answered (a watch when it ends), numbered in order of
arrival (`seq`); `code` 0 means no answer reached the client. Bodies are not
recorded: Secrets' values stay out of the log. Test-only control endpoints
live under /_fake/ (no auth):

  GET  /_fake/requests      the recorded requests
  POST /_fake/reset-log     forgets them (and truncates the log file)
  GET  /_fake/objects       every stored object
  POST /_fake/inject        a fault for the next requests that match:
                            {"method": "PATCH", "path": "configmaps/a$",
                             "count": 1, "status": 500, "delay": 0,
                             "drop": false, "retry_after": null}
                            (regexes searched in the method and the path;
                            `status` answers it without doing it, `delay`
                            waits first, `drop` then closes the connection
                            without an answer; without `status` or `drop`
                            the request is served after the delay)
  DELETE /_fake/inject      forgets the faults not yet used
  POST /_fake/reset         back to the start: objects, counters, log, faults

Usage:
  fake_apiserver.py [--port N] [--port-file F] [--log F]
                    [--tls-cert F --tls-key F [--client-ca F]]
                    [--token T] [--read-token T] [--control-port-file F] [--bare]
The port is printed on stdout and, with --port-file, written to that file
once the server listens. With --control-port-file a second, plain-HTTP
listener serves /_fake/ only (for tests that have no TLS client).
"""

import argparse
import base64
import copy
import datetime
import json
import os
import re
import select
import ssl
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

# ---------------------------------------------------------------------------
# The resources served
# ---------------------------------------------------------------------------

VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2024-12-11T00:00:00Z",
    "goVersion": "go1.23.4",
    "compiler": "gc",
    "platform": "linux/amd64",
}

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
# A namespace goes through the namespace's own deletion, never a collection's.
NAMESPACE_VERBS = ("create", "delete", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Resource:
    """One resource of one group version, as discovery describes it."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple = ()
    categories: tuple = ()
    verbs: tuple = ALL_VERBS
    # Which rule its names follow: "subdomain" (DNS-1123 subdomain), "label"
    # (DNS-1123 label), "dns1035" (DNS-1035 label), "path" (a path segment).
    names: str = "subdomain"
    # The fields an object may have beside apiVersion, kind and metadata
    # (None: any, as a CRD preserving unknown fields).
    fields: tuple | None = ("spec", "status")
    # Served from a CustomResourceDefinition.
    custom: bool = False
    # The spec fields an update may change (None: all; StatefulSets).
    mutable_spec: tuple | None = None
    # The spec fields no update may change.
    immutable_spec: tuple = ()
    # Has metadata.generation (counting changes of what is not metadata or
    # status); ConfigMaps, Secrets, namespaces and the like have none.
    generation: bool = True

    @property
    def singular(self):
        return self.kind.lower()

    @property
    def api_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self):
        """`configmaps`, `deployments.apps`: how error messages name it."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self):
        """`ConfigMap`, `Deployment.apps`."""
        return f"{self.kind}.{self.group}" if self.group else self.kind


BUILTIN = (
    Resource(
        "", "v1", "namespaces", "Namespace", False, ("ns",), verbs=NAMESPACE_VERBS, names="label", generation=False,
    ),
    Resource(
        "", "v1", "configmaps", "ConfigMap", True, ("cm",), fields=("data", "binaryData", "immutable"),
        generation=False,
    ),
    Resource(
        "", "v1", "secrets", "Secret", True, fields=("data", "stringData", "type", "immutable"), generation=False,
    ),
    Resource(
        "", "v1", "serviceaccounts", "ServiceAccount", True, ("sa",),
        fields=("secrets", "imagePullSecrets", "automountServiceAccountToken"), generation=False,
    ),
    Resource("", "v1", "services", "Service", True, ("svc",), ("all",), names="dns1035", generation=False),
    Resource("apps", "v1", "deployments", "Deployment", True, ("deploy",), ("all",), immutable_spec=("selector",)),
    Resource(
        "apps", "v1", "statefulsets", "StatefulSet", True, ("sts",), ("all",),
        mutable_spec=(
            "replicas", "ordinals", "template", "updateStrategy",
            "persistentVolumeClaimRetentionPolicy", "minReadySeconds",
        ),
    ),
    Resource("batch", "v1", "jobs", "Job", True, (), ("all",), immutable_spec=("selector", "template")),
    Resource("batch", "v1", "cronjobs", "CronJob", True, ("cj",), ("all",)),
    Resource(
        "rbac.authorization.k8s.io", "v1", "roles", "Role", True, names="path", fields=("rules",), generation=False,
    ),
    Resource(
        "rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True,
        names="path", fields=("subjects", "roleRef"), generation=False,
    ),
    Resource("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, ("netpol",)),
    Resource(
        "apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False,
        ("crd", "crds"), ("api-extensions",),
    ),
)
# The order /apis lists the built-in groups in (the core group is /api).
BUILTIN_GROUPS = ("apps", "batch", "networking.k8s.io", "rbac.authorization.k8s.io", "apiextensions.k8s.io")

# Installed at start (unless --bare): the CRD of External Secrets Operator's
# ExternalSecret, which floe deploys beside a product's workloads.
EXTERNAL_SECRETS_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "externalsecrets.external-secrets.io"},
    "spec": {
        "group": "external-secrets.io",
        "scope": "Namespaced",
        "names": {
            "plural": "externalsecrets",
            "singular": "externalsecret",
            "kind": "ExternalSecret",
            "listKind": "ExternalSecretList",
            "shortNames": ["es"],
            "categories": ["external-secrets"],
        },
        "versions": [
            {
                "name": "v1beta1",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                "subresources": {"status": {}},
            }
        ],
    },
}
SEED_NAMESPACES = ("default", "kube-system", "kube-public")

# Metadata only the server sets: what a client sends there is ignored.
SERVER_METADATA = (
    "uid", "resourceVersion", "generation", "creationTimestamp", "managedFields",
    "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds",
)
METADATA_FIELDS = {
    "name", "generateName", "namespace", "labels", "annotations", "ownerReferences", "finalizers",
    *SERVER_METADATA,
}
# How metadata's keys are ordered in answers, as a real server orders them.
METADATA_ORDER = (
    "name", "generateName", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
    "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences",
    "finalizers", "managedFields",
)


def crd_resources(crd):
    """The resources a stored CustomResourceDefinition serves."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    out = []
    for v in spec.get("versions") or []:
        if v.get("served"):
            out.append(Resource(
                spec.get("group", ""), v.get("name", ""), names.get("plural", ""), names.get("kind", ""),
                spec.get("scope") == "Namespaced", tuple(names.get("shortNames") or ()),
                tuple(names.get("categories") or ()), fields=None, custom=True,
            ))
    return out


# ---------------------------------------------------------------------------
# Errors, as Status objects
# ---------------------------------------------------------------------------

REASONS = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
    406: "NotAcceptable", 409: "Conflict", 410: "Expired", 413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType", 422: "Invalid", 429: "TooManyRequests", 500: "InternalError",
    503: "ServiceUnavailable", 504: "Timeout",
}


class ApiError(Exception):
    """An error answer: a `Status` with this code, reason and message."""

    def __init__(self, code, message, reason=None, details=None, headers=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or REASONS.get(code, "Unknown")
        self.details = details
        self.headers = headers or {}

    def status(self):
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason}
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def not_found(res, name):
    return ApiError(404, f'{res.qualified} "{name}" not found',
                    details={"name": name, "group": res.group, "kind": res.plural})


def no_such_path():
    return ApiError(404, "the server could not find the requested resource", details={})


def bad_request(message):
    return ApiError(400, message)


def invalid(res, name, causes):
    """422 Invalid; `causes` are (field, message) pairs."""
    text = ", ".join(f"{f}: {m}" for f, m in causes)
    if len(causes) > 1:
        text = f"[{text}]"
    return ApiError(
        422, f'{res.qualified_kind} "{name}" is invalid: {text}',
        details={"name": name, "group": res.group, "kind": res.kind,
                 "causes": [{"reason": "FieldValueInvalid", "message": m, "field": f} for f, m in causes]},
    )


def stale(res, name):
    return ApiError(
        409, f'Operation cannot be fulfilled on {res.qualified} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        details={"name": name, "group": res.group, "kind": res.plural},
    )


# ---------------------------------------------------------------------------
# A YAML subset for apply bodies (JSON is tried first)
# ---------------------------------------------------------------------------
#
# Block mappings and sequences, flow collections, plain and quoted scalars,
# literal and folded block scalars, comments, one document. Scalars resolve
# as Kubernetes' YAML library (YAML 1.1) resolves them: yes/no/on/off are
# booleans. Anchors, aliases, tags and multi-line plain scalars are refused.


class YamlError(ValueError):
    pass


_BOOLS = {
    **{w: True for w in ("y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE")},
    **{w: False for w in ("n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE")},
}
_INT = re.compile(r"[-+]?(0|[1-9][0-9_]*)$")
_HEX = re.compile(r"0x[0-9a-fA-F_]+$")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?$")
_KEY = re.compile(r"""("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"\[\]{},&*!|>%@`-][^#]*?|-[^\s#][^#]*?)\s*:(?:\s|$)""")


def _resolve(text):
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    if _INT.match(text):
        return int(text.replace("_", ""))
    if _HEX.match(text):
        return int(text.replace("_", ""), 16)
    if _FLOAT.match(text) and any(c.isdigit() for c in text):
        return float(text.replace("_", ""))
    if text.lower() in (".inf", "+.inf"):
        return float("inf")
    if text.lower() == "-.inf":
        return float("-inf")
    if text.lower() == ".nan":
        return float("nan")
    return text


def _strip_comment(text):
    """`text` without a trailing ` # comment` (outside quotes)."""
    quote = None
    for i, c in enumerate(text):
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or text[i - 1] in " \t"):
            return text[:i].rstrip()
    return text.rstrip()


class _Yaml:
    def __init__(self, text):
        self.lines = text.replace("\r\n", "\n").split("\n")
        self.i = 0

    def fail(self, why):
        raise YamlError(f"line {self.i + 1}: {why}")

    @staticmethod
    def indent(line):
        return len(line) - len(line.lstrip(" "))

    def next_content(self):
        """Skips blank and comment lines; the next line's index or None."""
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if "\t" in line[: self.indent(line) + 1] and line.strip():
                self.fail("tabs may not indent YAML")
            if line.strip() and not line.strip().startswith("#"):
                return self.i
            self.i += 1
        return None

    def document(self):
        at = self.next_content()
        if at is not None and self.lines[at].rstrip() == "---":
            self.i += 1
            at = self.next_content()
        if at is None:
            return None
        value = self.node(self.indent(self.lines[at]))
        at = self.next_content()
        if at is not None:
            if self.lines[at].rstrip() in ("---", "..."):
                self.i += 1
                if self.next_content() is not None:
                    self.fail("only one YAML document is allowed")
            else:
                self.fail("unexpected content (bad indentation?)")
        return value

    def node(self, indent):
        line = self.lines[self.i]
        text = line.strip()
        if text == "-" or text.startswith("- "):
            return self.sequence(indent)
        if _KEY.match(text):
            return self.mapping(indent)
        self.i += 1
        return self.inline(_strip_comment(text), indent)

    def at_indent(self, indent):
        """The next content line of a block at `indent`, as (index, text
        after the indentation); None where the block ends."""
        at = self.next_content()
        if at is None:
            return None
        line = self.lines[at]
        ind = self.indent(line)
        if ind < indent:
            return None
        if ind > indent:
            self.fail("unexpected indentation")
        return at, line[ind:]

    def mapping(self, indent):
        out = {}
        while (found := self.at_indent(indent)) is not None:
            _, text = found
            m = _KEY.match(text)
            if not m:
                break
            key = self.key(m.group(1))
            if key in out:
                self.fail(f"duplicate key {key!r}")
            self.i += 1
            out[key] = self.value(text[m.end():], indent, in_mapping=True)
        return out

    def key(self, raw):
        if raw[0] in "'\"":
            return self.inline(raw, 0)
        return raw

    def sequence(self, indent):
        out = []
        while (found := self.at_indent(indent)) is not None:
            at, text = found
            if not (text == "-" or text.startswith("- ")):
                break
            rest = text[1:]
            inner = rest.lstrip(" ")
            if inner and not inner.startswith("#") and (_KEY.match(inner) or inner == "-" or inner.startswith("- ")):
                # `- key: value` opens a mapping indented past the dash.
                inner_indent = indent + 1 + len(rest) - len(inner)
                self.lines[at] = " " * inner_indent + inner
                out.append(self.node(inner_indent))
            else:
                self.i += 1
                out.append(self.value(rest, indent, in_mapping=False))
        return out

    def value(self, rest, indent, in_mapping):
        """The value after `key:` or `- ` of a node at `indent`."""
        text = _strip_comment(rest).strip()
        if text.startswith(("&", "*", "!")):
            self.fail("anchors, aliases and tags are not supported")
        if text.startswith(("|", ">")):
            return self.block_scalar(text, indent)
        if text:
            return self.inline(text, indent)
        at = self.next_content()
        if at is None:
            return None
        ind = self.indent(self.lines[at])
        nested = self.lines[at][ind:]
        if ind > indent:
            return self.node(ind)
        # A mapping's sequence may sit at the key's own indentation.
        if in_mapping and ind == indent and (nested == "-" or nested.startswith("- ")):
            return self.sequence(ind)
        return None

    def block_scalar(self, header, indent):
        m = re.fullmatch(r"([|>])([-+]?)([1-9]?)([-+]?)", header)
        if not m:
            self.fail(f"bad block scalar header {header!r}")
        style, chomp, width = m.group(1), m.group(2) or m.group(4), m.group(3)
        lines = []
        content_indent = indent + int(width) if width else None
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if line.strip():
                ind = self.indent(line)
                if content_indent is None:
                    content_indent = ind
                if ind < content_indent or ind <= indent:
                    break
                lines.append(line[content_indent:])
            else:
                lines.append("")
            self.i += 1
        while lines and lines[-1] == "" and chomp != "+":
            lines.pop()
        if style == "|":
            text = "\n".join(lines)
        else:
            # Folded: a break between two plain lines is a space, each blank
            # line a break; more-indented lines keep theirs.
            text = lines[0] if lines else ""
            for n in range(1, len(lines)):
                line, prev = lines[n], lines[n - 1]
                if line == "":
                    text += "\n"
                elif prev == "":
                    text += line
                elif line.startswith(" ") or prev.startswith(" "):
                    text += "\n" + line
                else:
                    text += " " + line
        if not lines:
            return ""
        return text if chomp == "-" else text + "\n"

    def inline(self, text, indent):
        if text[0] in "[{":
            # A flow collection may span lines until its brackets close.
            while True:
                try:
                    value, end = _flow(text, 0)
                    break
                except YamlError:
                    if self.i >= len(self.lines) or self.indent(self.lines[self.i]) <= indent:
                        raise
                    text += " " + _strip_comment(self.lines[self.i].strip())
                    self.i += 1
            if text[end:].strip():
                self.fail(f"unexpected {text[end:].strip()!r} after a flow collection")
            return value
        if text[0] in "'\"":
            value, end = _quoted(text, 0)
            if text[end:].strip():
                self.fail(f"unexpected {text[end:].strip()!r} after a quoted scalar")
            return value
        at = self.next_content()
        if at is not None and self.indent(self.lines[at]) > indent and not self.lines[at].strip().startswith("- "):
            if not _KEY.match(self.lines[at].strip()):
                self.fail("multi-line plain scalars are not supported")
        return _resolve(text)


def _quoted(text, i):
    if text[i] == "'":
        m = re.compile(r"'((?:[^']|'')*)'").match(text, i)
        if not m:
            raise YamlError("unterminated single-quoted scalar")
        return m.group(1).replace("''", "'"), m.end()
    m = re.compile(r'"((?:[^"\\]|\\.)*)"').match(text, i)
    if not m:
        raise YamlError("unterminated double-quoted scalar")
    try:
        return json.loads(m.group(0)), m.end()
    except json.JSONDecodeError as e:
        raise YamlError(f"bad escape in a double-quoted scalar: {e}") from None


def _flow(text, i):
    """A flow collection or scalar starting at `text[i]`: (value, end)."""
    while i < len(text) and text[i] == " ":
        i += 1
    if i >= len(text):
        raise YamlError("unterminated flow collection")
    c = text[i]
    if c in "[{":
        close = "]" if c == "[" else "}"
        out = [] if c == "[" else {}
        i += 1
        while True:
            while i < len(text) and text[i] == " ":
                i += 1
            if i >= len(text):
                raise YamlError("unterminated flow collection")
            if text[i] == close:
                return out, i + 1
            if c == "[":
                value, i = _flow(text, i)
                out.append(value)
            else:
                key, i = _flow(text, i)
                while i < len(text) and text[i] == " ":
                    i += 1
                if i < len(text) and text[i] == ":":
                    value, i = _flow(text, i + 1)
                else:
                    value = None
                out[key] = value
            while i < len(text) and text[i] == " ":
                i += 1
            if i < len(text) and text[i] == ",":
                i += 1
            elif i >= len(text) or text[i] != close:
                raise YamlError("expected ',' or the end of a flow collection")
    if c in "'\"":
        return _quoted(text, i)
    m = re.compile(r"[^,\[\]{}]*?(?=\s*(?:[,\]}]|:\s|:$|$))").match(text, i)
    return _resolve(m.group(0).strip()), m.end()


def parse_body(body, media, want=dict):
    """A request body as a JSON object (or list): JSON, or YAML for the YAML types."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request("the request body is not UTF-8") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        if not media.endswith("yaml"):
            raise bad_request(f"error decoding JSON: {e}") from None
        try:
            value = _Yaml(text).document()
        except YamlError as ye:
            raise bad_request(f"error converting YAML to JSON: yaml: {ye}") from None
    if not isinstance(value, want):
        raise bad_request(f"the request body is not {'an object' if want is dict else 'a list'}")
    return value


# ---------------------------------------------------------------------------
# Label and field selectors
# ---------------------------------------------------------------------------

_LABEL_KEY = r"[A-Za-z0-9][-A-Za-z0-9_./]*"
_LABEL_VALUE = r"[-A-Za-z0-9_.]*"


def _split_top(text):
    """Splits at commas outside parentheses."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(text):
        depth += c == "("
        depth -= c == ")"
        if c == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def label_selector(text):
    """A predicate on a labels dict, from `labelSelector` syntax."""
    reqs = []
    for term in _split_top(text or ""):
        if m := re.fullmatch(rf"!\s*({_LABEL_KEY})", term):
            reqs.append(lambda ls, k=m.group(1): k not in ls)
        elif m := re.fullmatch(rf"({_LABEL_KEY})\s*(==|=|!=)\s*({_LABEL_VALUE})", term):
            k, op, v = m.groups()
            if op == "!=":
                reqs.append(lambda ls, k=k, v=v: ls.get(k) != v)
            else:
                reqs.append(lambda ls, k=k, v=v: ls.get(k) == v)
        elif m := re.fullmatch(rf"({_LABEL_KEY})\s+(in|notin)\s*\(([^()]*)\)", term):
            k, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",") if v.strip()}
            if not values:
                raise bad_request(
                    f"unable to parse requirement: for 'in', 'notin' operators, values set can't be empty: {term}"
                )
            if op == "in":
                reqs.append(lambda ls, k=k, vs=values: ls.get(k) in vs)
            else:
                reqs.append(lambda ls, k=k, vs=values: ls.get(k) not in vs)
        elif m := re.fullmatch(rf"({_LABEL_KEY})\s*([<>])\s*(-?[0-9]+)", term):
            k, op, n = m.group(1), m.group(2), int(m.group(3))

            def compare(ls, k=k, op=op, n=n):
                try:
                    v = int(ls[k])
                except (KeyError, ValueError):
                    return False
                return v > n if op == ">" else v < n

            reqs.append(compare)
        elif re.fullmatch(_LABEL_KEY, term):
            reqs.append(lambda ls, k=term: k in ls)
        else:
            raise bad_request(f"unable to parse requirement: found '{term}', expected a valid label requirement")
    return lambda labels: all(r(labels or {}) for r in reqs)


def field_selector(text):
    """A predicate on an object, from `fieldSelector` (metadata.name and .namespace)."""
    reqs = []
    for term in _split_top(text or ""):
        m = re.fullmatch(r"([A-Za-z.]+)\s*(==|=|!=)\s*(.*)", term)
        if not m:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
        path, op, value = m.groups()
        if path not in ("metadata.name", "metadata.namespace"):
            raise bad_request(f'field label not supported: {path}')
        key = path.split(".")[1]
        if op == "!=":
            reqs.append(lambda o, k=key, v=value: o["metadata"].get(k, "") != v)
        else:
            reqs.append(lambda o, k=key, v=value: o["metadata"].get(k, "") == v)
    return lambda obj: all(r(obj) for r in reqs)


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")
SUBDOMAIN_HELP = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_HELP = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1035_HELP = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
# ConfigMaps and Secrets hold at most this much.
MAX_DATA = 1024 * 1024


def name_problems(rule, name):
    if rule == "path":
        if name in (".", "..") or "/" in name or "%" in name:
            return ['may not be "." or "..", and may not contain "/" or "%"']
        return []
    pattern, limit, help = {
        "label": (_DNS1123_LABEL, 63, LABEL_HELP),
        "dns1035": (_DNS1035_LABEL, 63, DNS1035_HELP),
        "subdomain": (_DNS1123_SUBDOMAIN, 253, SUBDOMAIN_HELP),
    }[rule]
    out = []
    if len(name) > limit:
        out.append(f"must be no more than {limit} characters")
    if not pattern.fullmatch(name):
        out.append(help)
    return out


def qualified_name_problems(key):
    prefix, _, name = key.rpartition("/")
    out = []
    if "/" in key and (not prefix or len(prefix) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(prefix)):
        out.append("prefix part " + SUBDOMAIN_HELP)
    if not name or len(name) > 63 or not _QUALIFIED_NAME.fullmatch(name):
        out.append(
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
            "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') and be no more than 63 characters"
        )
    return out


def validate(res, obj, live):
    """Raises 422 Invalid for what a real server's validation refuses."""
    meta = obj["metadata"]
    name = meta.get("name", "")
    causes = []
    for why in name_problems(res.names, name):
        causes.append(("metadata.name", f'Invalid value: "{name}": {why}'))
    for what in ("labels", "annotations"):
        values = meta.get(what)
        if values is None:
            continue
        if not isinstance(values, dict):
            raise bad_request(f"metadata.{what} must be a map of strings")
        for k, v in values.items():
            if not isinstance(v, str):
                raise bad_request(f"metadata.{what}.{k} must be a string")
            for why in qualified_name_problems(k):
                causes.append((f"metadata.{what}", f'Invalid value: "{k}": {why}'))
            if what == "labels" and (len(v) > 63 or (v and not _QUALIFIED_NAME.fullmatch(v))):
                causes.append((
                    "metadata.labels",
                    f'Invalid value: "{v}": a valid label must be an empty string or consist of alphanumeric '
                    "characters, '-', '_' or '.', and must start and end with an alphanumeric character "
                    "(e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
                    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?') and be no more than 63 characters",
                ))
    if res.kind in ("ConfigMap", "Secret") and not res.group:
        size = 0
        for section in ("data", "binaryData"):
            values = obj.get(section) or {}
            if not isinstance(values, dict):
                raise bad_request(f"{section} must be a map")
            for k, v in values.items():
                if not isinstance(v, str):
                    raise bad_request(f"{section}.{k} must be a string")
                if len(k) > 253 or not _CONFIG_KEY.fullmatch(k):
                    causes.append((f"{section}[{k}]", f"Invalid value: \"{k}\": a valid config key must consist "
                                   "of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  "
                                   "or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"))
                size += len(k) + len(v)
        if size > MAX_DATA:
            causes.append(("data", f"Too long: must have at most {MAX_DATA} bytes"))
        if live is not None and live.get("immutable") is True:
            for section in ("data", "binaryData", "immutable"):
                if obj.get(section) != live.get(section):
                    causes.append((section, "Forbidden: field is immutable when `immutable` is set"))
    if res.kind == "CustomResourceDefinition" and res.group == "apiextensions.k8s.io":
        spec = obj.get("spec") or {}
        plural, group = (spec.get("names") or {}).get("plural", ""), spec.get("group", "")
        if name != f"{plural}.{group}":
            causes.append(("metadata.name", f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group'))
        if spec.get("scope") not in ("Namespaced", "Cluster"):
            causes.append((
                "spec.scope", f'Unsupported value: "{spec.get("scope")}": supported values: "Cluster", "Namespaced"',
            ))
        if not (spec.get("names") or {}).get("kind"):
            causes.append(("spec.names.kind", "Required value"))
        if not spec.get("versions"):
            causes.append(("spec.versions", "Required value: must have exactly one version marked as storage version"))
    if live is not None:
        spec, old = obj.get("spec") or {}, live.get("spec") or {}
        for key in res.immutable_spec:
            if spec.get(key) != old.get(key):
                causes.append((f"spec.{key}", f"Invalid value: {json.dumps(spec.get(key))}: field is immutable"))
        if res.mutable_spec is not None:
            changed = {k for k in set(spec) | set(old) if spec.get(k) != old.get(k)}
            if changed - set(res.mutable_spec):
                allowed = ", ".join(f"'{k}'" for k in res.mutable_spec[:-1])
                causes.append(("spec", f"Forbidden: updates to {res.singular} spec for fields other than "
                               f"{allowed} and '{res.mutable_spec[-1]}' are forbidden"))
    if causes:
        raise invalid(res, name, causes)


# ---------------------------------------------------------------------------
# Field paths, for managed fields
# ---------------------------------------------------------------------------
#
# A path is a tuple of map keys. Maps are granular (each key its own path),
# lists and scalars atomic, so a manager owns the leaves it set; the object's
# identity (apiVersion, kind, name, namespace) and status are owned by none.

MISSING = object()


def leaves(obj):
    out = set()

    def walk(value, path):
        if isinstance(value, dict) and value:
            for k, v in value.items():
                walk(v, path + (k,))
        else:
            out.add(path)

    for k, v in obj.items():
        if k in ("apiVersion", "kind", "status"):
            continue
        if k == "metadata":
            for mk, mv in (v or {}).items():
                if mk not in ("name", "namespace", "generateName") and mk not in SERVER_METADATA:
                    walk(mv, ("metadata", mk))
        else:
            walk(v, (k,))
    return out


def get_path(obj, path):
    for k in path:
        if not isinstance(obj, dict) or k not in obj:
            return MISSING
        obj = obj[k]
    return obj


def set_path(obj, path, value):
    for k in path[:-1]:
        if not isinstance(obj.get(k), dict):
            obj[k] = {}
        obj = obj[k]
    obj[path[-1]] = copy.deepcopy(value)


def remove_path(obj, path, keep):
    """Removes a leaf, then the maps it leaves empty that no path in `keep` names."""
    parents = []
    node = obj
    for k in path[:-1]:
        if not isinstance(node.get(k), dict):
            return
        parents.append((node, k))
        node = node[k]
    node.pop(path[-1], None)
    for depth in range(len(parents) - 1, -1, -1):
        parent, k = parents[depth]
        if parent[k] == {} and path[: depth + 1] not in keep:
            del parent[k]
        else:
            break


def related(a, b):
    """One path is the other or holds it."""
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def clashes(live, applied, mine, theirs):
    """Applying `mine` changes what another manager's `theirs` holds (the
    paths are related)."""
    if mine == theirs:
        return get_path(live, mine) != get_path(applied, mine)
    if len(mine) < len(theirs):
        # An empty map applied above their field merges with it; anything
        # else there replaces it.
        return get_path(applied, mine) != {} and get_path(live, theirs) != get_path(applied, theirs)
    # Below their field: into their empty map is a merge, into a list or a
    # scalar a replacement.
    return get_path(live, theirs) != {} and get_path(live, mine) != get_path(applied, mine)


def fields_v1(paths):
    """Paths in the FieldsV1 format of `metadata.managedFields`."""
    out = {}
    for path in sorted(paths):
        node = out
        for k in path:
            node = node.setdefault(f"f:{k}", {})
    return out


def render_path(path):
    return "".join(f".{k}" for k in path)


# ---------------------------------------------------------------------------
# Patches
# ---------------------------------------------------------------------------


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def strip_directives(patch):
    """A strategic merge patch without its `$` directives (then merged as JSON merge)."""
    if isinstance(patch, dict):
        return {k: strip_directives(v) for k, v in patch.items()
                if not k.startswith("$") and not k.startswith("$setElementOrder/")}
    if isinstance(patch, list):
        return [strip_directives(v) for v in patch if not (isinstance(v, dict) and "$patch" in v)]
    return patch


def json_patch(target, ops):
    """RFC 6902 JSON patch."""
    if not isinstance(ops, list):
        raise bad_request("a JSON patch must be a list of operations")
    doc = copy.deepcopy(target)

    def parse(pointer):
        if pointer == "":
            return []
        if not pointer.startswith("/"):
            raise bad_request(f"bad JSON pointer {pointer!r}")
        return [p.replace("~1", "/").replace("~0", "~") for p in pointer[1:].split("/")]

    def walk(parts):
        node = doc
        for p in parts[:-1]:
            if isinstance(node, list):
                node = node[int(p)]
            elif isinstance(node, dict) and p in node:
                node = node[p]
            else:
                raise bad_request(f"the JSON patch path {'/' + '/'.join(parts)} does not exist")
        return node, parts[-1]

    def read(parts):
        node, last = walk(parts)
        try:
            return node[int(last)] if isinstance(node, list) else node[last]
        except (KeyError, IndexError, ValueError):
            raise bad_request(f"the JSON patch path /{'/'.join(parts)} does not exist") from None

    def remove(parts):
        value = read(parts)
        node, last = walk(parts)
        if isinstance(node, list):
            del node[int(last)]
        else:
            del node[last]
        return value

    def add(parts, value):
        node, last = walk(parts)
        if isinstance(node, list):
            node.insert(len(node) if last == "-" else int(last), value)
        else:
            node[last] = value

    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise bad_request("a JSON patch operation needs `op` and `path`")
        parts = parse(op["path"])
        if not parts:
            raise bad_request("a JSON patch may not replace the whole object")
        kind = op["op"]
        try:
            if kind == "add":
                add(parts, copy.deepcopy(op.get("value")))
            elif kind == "remove":
                remove(parts)
            elif kind == "replace":
                remove(parts)
                add(parts, copy.deepcopy(op.get("value")))
            elif kind == "move":
                add(parts, remove(parse(op.get("from", ""))))
            elif kind == "copy":
                add(parts, copy.deepcopy(read(parse(op.get("from", "")))))
            elif kind == "test":
                if read(parts) != op.get("value"):
                    raise bad_request(f"testing value {op['path']} failed")
            else:
                raise bad_request(f"unknown JSON patch operation {kind!r}")
        except (IndexError, ValueError, TypeError):
            raise bad_request(f"the JSON patch operation on {op['path']} does not apply") from None
    return doc


# ---------------------------------------------------------------------------
# The store
# ---------------------------------------------------------------------------

EPOCH = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
# Watch history kept for resuming from a resourceVersion.
HISTORY = 10000


@dataclass
class Entry:
    """A stored object, and who owns which of its fields."""

    obj: dict
    # (manager, operation) -> the paths it owns
    owners: dict = field(default_factory=dict)
    # (manager, operation) -> when its entry last changed
    times: dict = field(default_factory=dict)


def content(obj):
    """An object without what the server keeps up to date: to see a change."""
    out = dict(obj)
    meta = dict(out.get("metadata") or {})
    for k in ("resourceVersion", "managedFields", "generation"):
        meta.pop(k, None)
    out["metadata"] = meta
    return out


def spec_of(obj):
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


class Store:
    """Every object, in memory, under one lock."""

    def __init__(self, seed):
        self.seed = seed
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.reset()

    def reset(self):
        with self.lock:
            self.objects = {}  # (group, plural, namespace, name) -> Entry
            self.rv = 0  # the last resourceVersion handed out
            self.uids = 0
            self.ticks = 0
            self.events = []  # (resourceVersion, type, resource, object), oldest first
            if self.seed:
                ns = self.resource("", "v1", "namespaces")
                for name in SEED_NAMESPACES:
                    self.create(ns, "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
                                "kube-apiserver", False)
                crds = self.resource("apiextensions.k8s.io", "v1", "customresourcedefinitions")
                self.create(crds, "", copy.deepcopy(EXTERNAL_SECRETS_CRD), "seed", False)
            self.changed.notify_all()

    # -- the resources served ------------------------------------------------

    def resources(self):
        with self.lock:
            out = list(BUILTIN)
            for key, entry in sorted(self.objects.items()):
                if key[:2] == ("apiextensions.k8s.io", "customresourcedefinitions"):
                    out.extend(crd_resources(entry.obj))
            return out

    def resource(self, group, version, plural):
        for r in self.resources():
            if (r.group, r.version, r.plural) == (group, version, plural):
                return r
        return None

    # -- counters ------------------------------------------------------------

    def _stamp(self, ahead=1):
        return (EPOCH + datetime.timedelta(seconds=self.ticks + ahead)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _uid(self, ahead=1):
        return f"00000000-0000-4000-8000-{self.uids + ahead:012d}"

    # -- reading -------------------------------------------------------------

    def get(self, res, ns, name):
        with self.lock:
            entry = self.objects.get((res.group, res.plural, ns, name))
            if entry is None:
                raise not_found(res, name)
            return copy.deepcopy(entry.obj)

    def select(self, res, ns, labels, fields):
        """The matching objects, ordered by namespace and name."""
        with self.lock:
            out = []
            for key, entry in sorted(self.objects.items()):
                if key[:2] != (res.group, res.plural) or (ns and key[2] != ns):
                    continue
                if labels(entry.obj["metadata"].get("labels")) and fields(entry.obj):
                    out.append(copy.deepcopy(entry.obj))
            return out

    def namespace_ready(self, res, ns):
        if not res.namespaced:
            return
        entry = self.objects.get(("", "namespaces", "", ns))
        nsres = BUILTIN[0]
        if entry is None:
            raise not_found(nsres, ns)
        if entry.obj["metadata"].get("deletionTimestamp"):
            raise ApiError(403, f'{res.qualified} "{ns}" is forbidden: unable to create new content in '
                           f"namespace {ns} because it is being terminated")

    # -- writing -------------------------------------------------------------

    def _save(self, res, ns, name, live, obj, owners, dry_run):
        """Stores `obj` unless nothing changed; (answer, changed)."""
        key = (res.group, res.plural, ns, name)
        obj = copy.deepcopy(obj)
        obj["apiVersion"], obj["kind"] = res.api_version, res.kind
        meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in SERVER_METADATA}
        meta["name"] = name
        if ns:
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        if live is not None:
            for k in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                      "generation", "resourceVersion", "generateName"):
                if k in live.obj["metadata"]:
                    meta[k] = live.obj["metadata"][k]
            if "status" in live.obj:
                obj["status"] = copy.deepcopy(live.obj["status"])
            else:
                obj.pop("status", None)
        else:
            obj.pop("status", None)
        if res.plural == "namespaces" and not res.group:
            # What the namespace lifecycle sets on every namespace.
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = name
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
            obj["status"] = {"phase": "Terminating" if meta.get("deletionTimestamp") else "Active"}
        obj["metadata"] = meta
        owners = {k: frozenset(v) for k, v in owners.items() if v}
        if live is not None and content(live.obj) == content(obj) and live.owners == owners:
            return copy.deepcopy(live.obj), False
        spec_changed = live is None or spec_of(live.obj) != spec_of(obj)
        if dry_run:
            # As it would be, with nothing handed out: the counters stay.
            if live is None:
                meta["uid"], meta["creationTimestamp"], meta["generation"] = self._uid(), self._stamp(), 1
            elif spec_changed:
                meta["generation"] = meta.get("generation", 1) + 1
            if not res.generation:
                meta.pop("generation", None)
            times = {k: (live.times.get(k) if live and live.owners.get(k) == v else self._stamp())
                     for k, v in owners.items()}
            meta["managedFields"] = self._managed(res, owners, times)
            obj["metadata"] = self._ordered(meta)
            return obj, False
        self.ticks += 1
        stamp = self._stamp(0)
        if live is None:
            self.uids += 1
            meta["uid"], meta["creationTimestamp"], meta["generation"] = self._uid(0), stamp, 1
        elif spec_changed:
            meta["generation"] = meta.get("generation", 1) + 1
        if not res.generation:
            meta.pop("generation", None)
        times = {k: (live.times.get(k) if live and live.owners.get(k) == v else stamp) for k, v in owners.items()}
        self.rv += 1
        meta["resourceVersion"] = str(self.rv)
        meta["managedFields"] = self._managed(res, owners, times)
        obj["metadata"] = self._ordered(meta)
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            # The last finalizer is gone: the deletion completes.
            self._remove(res, key, obj)
            return copy.deepcopy(obj), True
        self.objects[key] = Entry(obj, owners, times)
        self._event("ADDED" if live is None else "MODIFIED", res, obj)
        return copy.deepcopy(obj), True

    @staticmethod
    def _managed(res, owners, times):
        return [{"manager": m, "operation": op, "apiVersion": res.api_version, "time": times[(m, op)],
                 "fieldsType": "FieldsV1", "fieldsV1": fields_v1(paths)}
                for (m, op), paths in owners.items()]

    @staticmethod
    def _ordered(meta):
        if not meta.get("managedFields"):
            meta.pop("managedFields", None)
        out = {k: meta[k] for k in METADATA_ORDER if k in meta}
        out.update({k: v for k, v in meta.items() if k not in out})
        return out

    def _event(self, kind, res, obj):
        self.events.append((self.rv, kind, res, copy.deepcopy(obj)))
        del self.events[:-HISTORY]
        self.changed.notify_all()

    def _remove(self, res, key, obj):
        """Deletes an object at once, and what it holds: a namespace's
        contents, a CRD's custom objects."""
        served = {(r.group, r.version, r.plural): r for r in self.resources()}
        self.objects.pop(key, None)
        self.rv += 1
        gone = copy.deepcopy(obj)
        gone["metadata"]["resourceVersion"] = str(self.rv)
        self._event("DELETED", res, gone)
        held = []
        if res.plural == "namespaces" and not res.group:
            held = [k for k in self.objects if k[2] == key[3]]
        elif res.plural == "customresourcedefinitions" and res.group == "apiextensions.k8s.io":
            spec = obj.get("spec") or {}
            held = [k for k in self.objects if k[:2] == (spec.get("group"), (spec.get("names") or {}).get("plural"))]
        for k in sorted(held):
            inner = self.objects[k]
            self._remove(served.get((k[0], inner.obj["apiVersion"].rpartition("/")[2], k[1]), res), k, inner.obj)

    @staticmethod
    def check(res, ns, name, body, typed=True):
        """Checks a written object against where it is written, and drops
        the fields its type does not have (as decoding into a type does);
        their names. `typed`: apiVersion and kind must be there (not so in
        a merge patch)."""
        api_version, kind = body.get("apiVersion"), body.get("kind")
        if typed and not kind:
            raise bad_request("Object 'Kind' is missing in the request body")
        if typed and not api_version:
            raise bad_request("Object 'apiVersion' is missing in the request body")
        if api_version is not None and api_version != res.api_version:
            raise bad_request(f"the API version in the data ({api_version}) does not match the expected API version "
                              f"({res.api_version})")
        if kind is not None and kind != res.kind:
            raise bad_request(f"the kind in the data ({kind}) does not match the expected kind ({res.kind})")
        meta = body.get("metadata")
        if meta is None:
            meta = body["metadata"] = {}
        if not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        if name is not None and meta.get("name") not in (None, name):
            raise bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")
        if res.namespaced and meta.get("namespace") not in (None, "", ns):
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        unknown = [f"metadata.{k}" for k in meta if k not in METADATA_FIELDS]
        for k in unknown:
            del meta[k[len("metadata."):]]
        if res.fields is not None:
            for k in [k for k in body if k not in ("apiVersion", "kind", "metadata", *res.fields)]:
                unknown.append(k)
                del body[k]
        return unknown

    @staticmethod
    def _fold_string_data(res, obj):
        """A Secret's stringData joins its data, base64-encoded, as on a real server."""
        if res.kind == "Secret" and not res.group and isinstance(obj.get("stringData"), dict):
            data = obj.setdefault("data", {}) or {}
            for k, v in obj.pop("stringData").items():
                data[k] = base64.b64encode(str(v).encode()).decode()
            obj["data"] = data
        elif res.kind == "Secret" and not res.group:
            obj.pop("stringData", None)
        if res.kind == "Secret" and not res.group:
            for k, v in (obj.get("data") or {}).items():
                try:
                    base64.b64decode(v if isinstance(v, str) else "", validate=True)
                except ValueError:
                    raise bad_request(f"Secret in version \"v1\" cannot be handled as a Secret: illegal base64 "
                                      f"data in data[{k}]") from None

    def create(self, res, ns, body, manager, dry_run):
        with self.lock:
            self.check(res, ns, None, body)
            meta = body["metadata"]
            if meta.get("resourceVersion"):
                raise bad_request("resourceVersion should not be set on objects to be created")
            name = meta.get("name") or ""
            if not name and meta.get("generateName"):
                # Counter based, as everything here.
                alphabet = "bcdfghjklmnpqrstvwxz2456789"
                n, suffix = self.uids + 1, ""
                for _ in range(5):
                    n, r = divmod(n, len(alphabet))
                    suffix += alphabet[r]
                name = meta["generateName"] + suffix
            if not name:
                raise invalid(res, "", [("metadata.name", "Required value: name or generateName is required")])
            meta["name"] = name
            self.namespace_ready(res, ns)
            if (res.group, res.plural, ns, name) in self.objects:
                raise ApiError(409, f'{res.qualified} "{name}" already exists', reason="AlreadyExists",
                               details={"name": name, "group": res.group, "kind": res.plural})
            self._fold_string_data(res, body)
            validate(res, body, None)
            return self._save(res, ns, name, None, body, {(manager, "Update"): leaves(body)}, dry_run)

    def _update_owners(self, live, obj, manager):
        """Who owns what after a non-apply update by `manager`: it takes what it changed."""
        old, new = leaves(live.obj), leaves(obj)
        touched = {p for p in new if p not in old or get_path(live.obj, p) != get_path(obj, p)}
        touched |= old - new
        owners = {}
        for k, paths in live.owners.items():
            owners[k] = {p for p in paths if p in new and not any(related(p, t) for t in touched)}
        mine = (manager, "Update")
        owners[mine] = {p for p in (live.owners.get(mine, set()) | touched) if p in new}
        return owners

    def _live(self, res, ns, name):
        entry = self.objects.get((res.group, res.plural, ns, name))
        if entry is None:
            raise not_found(res, name)
        return entry

    def replace(self, res, ns, name, body, manager, dry_run):
        with self.lock:
            live = self._live(res, ns, name)
            self.check(res, ns, name, body)
            rv = body["metadata"].get("resourceVersion")
            if rv and rv != live.obj["metadata"]["resourceVersion"]:
                raise stale(res, name)
            self._fold_string_data(res, body)
            body["metadata"]["name"] = name
            validate(res, body, live.obj)
            return self._save(res, ns, name, live, body, self._update_owners(live, body, manager), dry_run)

    def patch(self, res, ns, name, media, patch, manager, dry_run):
        """A JSON merge, strategic merge or JSON patch of an existing object."""
        with self.lock:
            live = self._live(res, ns, name)
            if media == "application/json-patch+json":
                obj = json_patch(live.obj, patch)
            elif media == "application/strategic-merge-patch+json":
                obj = merge_patch(live.obj, strip_directives(patch))
            else:
                obj = merge_patch(live.obj, patch)
            if not isinstance(obj, dict):
                raise bad_request("the patched object is not an object")
            self.check(res, ns, name, obj, typed=False)
            rv = obj["metadata"].get("resourceVersion")
            if rv and rv != live.obj["metadata"]["resourceVersion"]:
                raise stale(res, name)
            self._fold_string_data(res, obj)
            validate(res, obj, live.obj)
            return self._save(res, ns, name, live, obj, self._update_owners(live, obj, manager), dry_run)

    def apply(self, res, ns, name, applied, manager, force, dry_run):
        """Server-side apply: `manager` owns what it applied, and only that;
        (answer, changed, created)."""
        with self.lock:
            entry = self.objects.get((res.group, res.plural, ns, name))
            if applied.get("metadata", {}).get("managedFields"):
                raise bad_request("metadata.managedFields must be nil")
            rv = (applied.get("metadata") or {}).get("resourceVersion")
            if rv and (entry is None or rv != entry.obj["metadata"]["resourceVersion"]):
                raise stale(res, name)
            applied = {k: v for k, v in applied.items() if k != "status"}
            self._fold_string_data(res, applied)
            mine = (manager, "Apply")
            wanted = leaves(applied)
            if entry is None:
                self.namespace_ready(res, ns)
                applied["metadata"]["name"] = name
                validate(res, applied, None)
                return (*self._save(res, ns, name, None, applied, {mine: wanted}, dry_run), True)
            # Fields another manager owns with another value conflict.
            conflicts = []
            for key, paths in entry.owners.items():
                if key == mine:
                    continue
                for p in sorted(wanted):
                    for q in sorted(paths):
                        if related(p, q) and clashes(entry.obj, applied, p, q):
                            conflicts.append((key, q))
            if conflicts and not force:
                raise self._conflict(res, name, entry, conflicts)
            owners = {}
            for key, paths in entry.owners.items():
                lost = {q for k, q in conflicts if k == key}
                owners[key] = set(paths) - lost if key != mine else wanted
            owners.setdefault(mine, wanted)
            obj = copy.deepcopy(entry.obj)
            others = set().union(*(v for k, v in owners.items() if k != mine))
            # What it applied before and not now goes, unless another owns it.
            for p in sorted(entry.owners.get(mine, set()) - wanted, key=len, reverse=True):
                if not any(related(p, q) for q in others):
                    remove_path(obj, p, others | wanted)
            for p in wanted:
                value = get_path(applied, p)
                if value == {} and isinstance(get_path(obj, p), dict):
                    continue  # an empty map merges
                if value is not MISSING:
                    set_path(obj, p, value)
            validate(res, obj, entry.obj)
            return (*self._save(res, ns, name, entry, obj, owners, dry_run), False)

    @staticmethod
    def _conflict(res, name, entry, conflicts):
        """409, worded as a real server words it."""
        seen = {}  # manager, as printed -> its paths
        for key, path in conflicts:
            who = f'"{key[0]}" using {res.api_version}'
            if key[1] == "Update":
                who += f" at {entry.times.get(key)}"
            if path not in seen.setdefault(who, []):
                seen[who].append(path)
        count = sum(len(paths) for paths in seen.values())
        if count == 1:
            (who, (path,)), = seen.items()
            text = f"conflict with {who}: {render_path(path)}"
        else:
            text = "\n".join(f"conflicts with {who}:" + "".join(f"\n- {render_path(p)}" for p in paths)
                             for who, paths in seen.items())
        causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {who}", "field": render_path(p)}
                  for who, paths in seen.items() for p in paths]
        return ApiError(409, f"Apply failed with {count} conflict{'s' if count > 1 else ''}: {text}",
                        details={"name": name, "group": res.group, "kind": res.plural, "causes": causes})

    def delete(self, res, ns, name, options, dry_run):
        with self.lock:
            live = self._live(res, ns, name)
            pre = options.get("preconditions") or {}
            meta = live.obj["metadata"]
            details = {"name": name, "group": res.group, "kind": res.plural}
            if pre.get("uid") and pre["uid"] != meta["uid"]:
                raise ApiError(409, f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: "
                               f"{meta['uid']}", details=details)
            if pre.get("resourceVersion") and pre["resourceVersion"] != meta["resourceVersion"]:
                raise ApiError(409, f"Precondition failed: ResourceVersion in precondition: "
                               f"{pre['resourceVersion']}, ResourceVersion in object meta: "
                               f"{meta['resourceVersion']}", details=details)
            done = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                    "details": {"name": name, "group": res.group, "kind": res.plural, "uid": meta["uid"]}}
            if dry_run:
                return done, False
            if meta.get("finalizers"):
                # Waits for its finalizers (nothing here removes them but a client).
                if meta.get("deletionTimestamp"):
                    return copy.deepcopy(live.obj), False
                obj = copy.deepcopy(live.obj)
                self.ticks += 1
                obj["metadata"]["deletionTimestamp"] = self._stamp(0)
                obj["metadata"]["deletionGracePeriodSeconds"] = 0
                if res.plural == "namespaces" and not res.group:
                    obj["status"] = {"phase": "Terminating"}
                self.rv += 1
                obj["metadata"]["resourceVersion"] = str(self.rv)
                self.objects[(res.group, res.plural, ns, name)] = Entry(obj, live.owners, live.times)
                self._event("MODIFIED", res, obj)
                return copy.deepcopy(obj), True
            self._remove(res, (res.group, res.plural, ns, name), live.obj)
            return done, True

    def delete_collection(self, res, ns, labels, fields, dry_run):
        """Deletes the matching objects; ((their list, resourceVersion), changed)."""
        with self.lock:
            items = self.select(res, ns, labels, fields)
            changed = False
            for obj in items:
                meta = obj["metadata"]
                changed |= self.delete(res, meta.get("namespace", ""), meta["name"], {}, dry_run)[1]
            return (items, self.rv), changed

    def snapshot(self):
        with self.lock:
            return [copy.deepcopy(e.obj) for _, e in sorted(self.objects.items())]


# ---------------------------------------------------------------------------
# Discovery and OpenAPI documents
# ---------------------------------------------------------------------------

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def group_versions(resources):
    """{group: [version, ...]}: the core group first, then /apis' order."""
    out = {}
    for r in resources:
        versions = out.setdefault(r.group, [])
        if r.version not in versions:
            versions.append(r.version)
    order = [""] + list(BUILTIN_GROUPS) + sorted(g for g in out if g and g not in BUILTIN_GROUPS)
    return {g: out[g] for g in order if g in out}


def resource_list(resources, group, version):
    items = []
    for r in resources:
        if (r.group, r.version) == (group, version):
            item = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind,
                    "verbs": list(r.verbs)}
            if r.short_names:
                item["shortNames"] = list(r.short_names)
            if r.categories:
                item["categories"] = list(r.categories)
            items.append(item)
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version, "resources": items}


def api_group(group, versions):
    gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": gvs, "preferredVersion": gvs[0]}


def aggregated(resources, core):
    """apidiscovery.k8s.io/v2: /api (core) or /apis (the others) in one document."""
    items = []
    for group, versions in group_versions(resources).items():
        if (group == "") != core:
            continue
        vs = []
        for v in versions:
            rs = []
            for r in resources:
                if (r.group, r.version) == (group, v):
                    item = {"resource": r.plural,
                            "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
                            "scope": "Namespaced" if r.namespaced else "Cluster",
                            "singularResource": r.singular, "verbs": list(r.verbs)}
                    if r.short_names:
                        item["shortNames"] = list(r.short_names)
                    if r.categories:
                        item["categories"] = list(r.categories)
                    rs.append(item)
            vs.append({"version": v, "resources": rs, "freshness": "Current"})
        items.append({"metadata": {"name": group, "creationTimestamp": None}, "versions": vs})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items}


def openapi_v3_index(resources):
    paths = {}
    for group, versions in group_versions(resources).items():
        for v in versions:
            gv = f"apis/{group}/{v}" if group else f"api/{v}"
            paths[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}"}
    return {"paths": paths}


def openapi_v3(resources, group, version):
    """Just enough OpenAPI v3 for kubectl to see that every PATCH takes `fieldValidation`."""
    paths = {}
    prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
    for r in resources:
        if (r.group, r.version) != (group, version):
            continue
        scope = f"{prefix}/namespaces/{{namespace}}" if r.namespaced else prefix
        where = f"{scope}/{r.plural}/{{name}}"
        gvk = {"group": r.group, "version": r.version, "kind": r.kind}
        params = [{"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
                  for n in ("dryRun", "fieldManager", "fieldValidation", "force")]
        op = {"parameters": params, "responses": {"200": {"description": "OK"}},
              "x-kubernetes-action": "patch", "x-kubernetes-group-version-kind": gvk}
        paths[where] = {"patch": {**op, "operationId": f"patch{r.kind}"},
                        "put": {**op, "operationId": f"replace{r.kind}", "x-kubernetes-action": "put"}}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": VERSION["gitVersion"]}, "paths": paths,
            "components": {"schemas": {}}}


def _pb_field(number, data):
    """One length-delimited protobuf field."""
    n, size = len(data), b""
    while True:
        size += bytes([(n & 0x7F) | (0x80 if n > 0x7F else 0)])
        n >>= 7
        if not n:
            break
    return bytes([number << 3 | 2]) + size + data


# OpenAPI v2 (gnostic's protobuf Document): kubectl downloads it before
# validating; empty, it tells kubectl nothing, and kubectl relies on v3.
OPENAPI_V2 = _pb_field(1, b"2.0") + _pb_field(
    2, _pb_field(1, b"Kubernetes") + _pb_field(2, VERSION["gitVersion"].encode())
)


# ---------------------------------------------------------------------------
# Request log and injected faults
# ---------------------------------------------------------------------------


class Log:
    """Every API request, in memory and as JSON lines in a file."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.entries = []
        self.arrived = 0
        if path:
            open(path, "w").close()

    def arrive(self):
        """The number of a request that just arrived (entries are written when answered)."""
        with self.lock:
            self.arrived += 1
            return self.arrived

    def add(self, entry):
        with self.lock:
            self.entries.append(entry)
            if self.path:
                with open(self.path, "a") as f:
                    f.write(json.dumps(entry, sort_keys=True) + "\n")

    def reset(self):
        with self.lock:
            self.entries = []
            self.arrived = 0
            if self.path:
                open(self.path, "w").close()


@dataclass
class Fault:
    method: str
    path: str
    count: int
    status: int | None
    delay: float
    drop: bool
    retry_after: int | None
    message: str | None


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []

    def add(self, spec):
        try:
            fault = Fault(
                method=str(spec.get("method", ".*")), path=str(spec.get("path", ".*")),
                count=int(spec.get("count", 1)), status=spec.get("status"), delay=float(spec.get("delay", 0)),
                drop=bool(spec.get("drop", False)), retry_after=spec.get("retry_after"),
                message=spec.get("message"),
            )
            re.compile(fault.method)
            re.compile(fault.path)
        except (TypeError, ValueError, re.error) as e:
            raise bad_request(f"bad fault: {e}") from None
        with self.lock:
            self.rules.append(fault)
            return len(self.rules)

    def take(self, method, path):
        with self.lock:
            for fault in self.rules:
                if re.search(fault.method, method, re.IGNORECASE) and re.search(fault.path, path):
                    fault.count -= 1
                    if fault.count <= 0:
                        self.rules.remove(fault)
                    return fault
        return None

    def clear(self):
        with self.lock:
            self.rules = []


# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------


class App:
    """What every request handler shares."""

    def __init__(self, args):
        self.store = Store(seed=not args.bare)
        self.log = Log(args.log)
        self.faults = Faults()
        self.token = args.token
        self.read_token = args.read_token
        self.client_ca = args.client_ca
        # Watches end after this long (clients start a new one).
        self.watch_timeout = args.watch_timeout


def first(query, name, default=None):
    values = query.get(name)
    return values[0] if values else default


class Options:
    """A write's query options, checked."""

    def __init__(self, handler, query, res):
        self.query = query
        self.res = res
        dry_run = first(query, "dryRun")
        if dry_run is not None and dry_run != "All":
            raise bad_request(f'Invalid dry run value: "{dry_run}": supported values: "All"')
        self.dry_run = dry_run == "All"
        # Without fieldManager, the user agent's first word, as a real server does.
        self.manager = first(query, "fieldManager") or handler.headers.get("User-Agent", "unknown").split("/")[0]
        if len(self.manager) > 128:
            raise invalid_options("fieldManager", "Too long: may not be more than 128 bytes")
        self.validation = first(query, "fieldValidation", "Warn")
        if self.validation not in ("Ignore", "Warn", "Strict"):
            raise bad_request(f'Invalid field validation value: "{self.validation}": supported values: '
                              '"Ignore", "Warn", "Strict"')
        force = first(query, "force")
        if force not in (None, "true", "false"):
            raise bad_request(f'invalid force value "{force}"')
        self.force = force == "true"
        self.delete_options = {}

    def deleting(self, options):
        policy = options.get("propagationPolicy") or first(self.query, "propagationPolicy")
        if policy not in (None, "Orphan", "Background", "Foreground"):
            raise bad_request(f'Unsupported value: "{policy}": supported values: "Foreground", "Background", "Orphan"')
        if options.get("dryRun") not in (None, [], ["All"]):
            raise bad_request(f"Invalid dry run value: {options['dryRun']!r}")
        self.dry_run = self.dry_run or options.get("dryRun") == ["All"]
        self.delete_options = options

    def unknown_fields(self, unknown):
        """Strict refuses unknown fields; Warn (the default) warns; all drop them."""
        if not unknown:
            return {}
        if self.validation == "Strict":
            fields = ", ".join(f'unknown field "{u}"' for u in unknown)
            kind = self.res.kind
            raise bad_request(f'{kind} in version "{self.res.version}" cannot be handled as a {kind}: '
                              f"strict decoding error: {fields}")
        if self.validation == "Warn":
            return {"Warning": ", ".join(f'299 - "unknown field \\"{u}\\""' for u in unknown)}
        return {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "floe-fake-apiserver"
    app: App  # set on the subclass a server uses
    control_only = False

    def log_message(self, format, *args):
        pass  # the request log records what matters

    def setup(self):
        super().setup()
        if hasattr(self.connection, "do_handshake"):
            # The TLS handshake happens here, on the request's thread.
            self.connection.do_handshake()

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    # -- plumbing ------------------------------------------------------------

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send(self, code, body, content_type="application/json", headers=None):
        data = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def dispatch(self):
        url = urlsplit(self.path)
        path = unquote(url.path).rstrip("/") or "/"
        query = parse_qs(url.query, keep_blank_values=True)
        try:
            body = self.read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        if path.startswith("/_fake/") or path == "/_fake":
            return self.control(path, body)
        if self.control_only:
            return self.send(404, no_such_path().status())
        entry = {"seq": self.app.log.arrive(), "method": self.command, "path": path, "query": url.query,
                 "body_bytes": len(body), "content_type": self.headers.get("Content-Type", ""),
                 "user_agent": self.headers.get("User-Agent", "")}
        dry_run = "dryRun" in query
        entry["dry_run"] = dry_run
        entry["write"] = self.command in ("POST", "PUT", "PATCH", "DELETE") and not dry_run
        entry["changed"] = False
        headers = {}
        code = 500
        try:
            # Like a real cluster's public-info-viewer role, anyone may ask
            # these (kubectl's version dispatcher does, without credentials).
            public = self.command == "GET" and path in ("/version", "/healthz", "/readyz", "/livez")
            user = "admin" if public else self.authenticate()
            entry["user"] = user
            fault = self.app.faults.take(self.command, path + ("?" + url.query if url.query else ""))
            if fault is not None:
                entry["injected"] = True
                if fault.delay:
                    time.sleep(fault.delay)
                if fault.drop:
                    entry["code"] = 0
                    self.close_connection = True
                    return
                if fault.status:
                    extra = {}
                    if fault.retry_after is not None:
                        extra["Retry-After"] = str(fault.retry_after)
                    code = int(fault.status)
                    message = fault.message or f"injected {code} {REASONS.get(code, 'Unknown')}"
                    raise ApiError(code, message, headers=extra)
            code, payload, changed, headers, content_type = self.route(path, query, body, user, entry)
            entry["changed"] = changed
            if payload is None:
                return  # a watch, streamed
            self.send(code, payload, content_type, headers)
        except ApiError as e:
            code = e.code
            entry["reason"] = e.reason
            self.send(code, e.status(), headers=e.headers)
        except (BrokenPipeError, ConnectionResetError):
            code = 0
        except Exception as e:  # a bug here: answer 500 and say so
            traceback.print_exc()
            code = 500
            try:
                self.send(500, ApiError(500, f"fake API server error: {e}").status())
            except OSError:
                pass
        finally:
            entry.setdefault("code", code)
            self.app.log.add(entry)

    def authenticate(self):
        """The user: "admin", "reader" (reads only), or 401."""
        if not self.app.token and not self.app.read_token and not self.app.client_ca:
            return "admin"
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            token = auth[len("Bearer "):].strip()
            if self.app.token and token == self.app.token:
                return "admin"
            if self.app.read_token and token == self.app.read_token:
                return "reader"
            raise ApiError(401, "Unauthorized")
        if self.app.client_ca and hasattr(self.connection, "getpeercert") and self.connection.getpeercert():
            return "admin"
        raise ApiError(401, "Unauthorized")

    # -- control -------------------------------------------------------------

    def control(self, path, body):
        app = self.app
        try:
            if path == "/_fake/requests" and self.command == "GET":
                with app.log.lock:
                    entries = list(app.log.entries)
                return self.send(200, entries)
            if path == "/_fake/reset-log" and self.command == "POST":
                app.log.reset()
                return self.send(200, {"ok": True})
            if path == "/_fake/objects" and self.command == "GET":
                return self.send(200, app.store.snapshot())
            if path == "/_fake/inject" and self.command == "POST":
                n = app.faults.add(parse_body(body or b"{}", "application/json"))
                return self.send(200, {"faults": n})
            if path == "/_fake/inject" and self.command == "DELETE":
                app.faults.clear()
                return self.send(200, {"faults": 0})
            if path == "/_fake/reset" and self.command == "POST":
                app.store.reset()
                app.log.reset()
                app.faults.clear()
                return self.send(200, {"ok": True})
            raise no_such_path()
        except ApiError as e:
            self.send(e.code, e.status())

    # -- the API -------------------------------------------------------------

    def route(self, path, query, body, user, entry):
        """(code, body, changed, headers, content type) for one API request;
        a body of None when the answer was streamed (a watch)."""
        method = self.command
        accept = self.headers.get("Accept", "")
        parts = path.strip("/").split("/") if path != "/" else []
        if method == "GET":
            doc = self.discovery(parts, accept)
            if doc is not None:
                return doc
        res, ns, name = self.target(parts)
        if method in ("POST", "PUT", "PATCH", "DELETE") and user == "reader":
            verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[method]
            where = f' in the namespace "{ns}"' if ns else ""
            target = f'{res.qualified} "{name}"' if name else res.qualified
            raise ApiError(403, f'{target} is forbidden: User "reader" cannot {verb} resource "{res.plural}" in API '
                           f'group "{res.group}"{where}',
                           details={"name": name or "", "group": res.group, "kind": res.plural})
        if res.namespaced and ns is None and (name is not None or method != "GET"):
            raise no_such_path()  # only reading may span namespaces
        ns = ns or ""
        options = Options(self, query, res)
        if method == "DELETE":
            # DeleteOptions may come in the body, dryRun among them.
            extra = parse_body(body, "application/json") if body.strip() else {}
            options.deleting(extra)
            entry["dry_run"] = options.dry_run
            entry["write"] = not options.dry_run
        if method == "GET" and name is not None:
            obj = self.app.store.get(res, ns, name)
            return 200, self.as_table(res, [obj], accept, query), False, {}, "application/json"
        if method == "GET":
            labels = label_selector(first(query, "labelSelector"))
            fields = field_selector(first(query, "fieldSelector"))
            if first(query, "watch") in ("true", "1"):
                self.watch(res, ns, labels, fields, query)
                return 200, None, False, {}, ""
            return 200, self.list(res, ns, labels, fields, query, accept), False, {}, "application/json"
        if method == "POST" and name is None:
            obj = self.decode(body, ("application/json", "application/yaml"))
            headers = options.unknown_fields(self.app.store.check(res, ns, None, obj))
            answer, changed = self.app.store.create(res, ns, obj, options.manager, options.dry_run)
            return 201, answer, changed, headers, "application/json"
        if method == "PUT" and name is not None:
            obj = self.decode(body, ("application/json", "application/yaml"))
            headers = options.unknown_fields(self.app.store.check(res, ns, name, obj))
            answer, changed = self.app.store.replace(res, ns, name, obj, options.manager, options.dry_run)
            return 200, answer, changed, headers, "application/json"
        if method == "PATCH" and name is not None:
            return self.patch(res, ns, name, body, options)
        if method == "DELETE" and name is not None:
            answer, changed = self.app.store.delete(res, ns, name, options.delete_options, options.dry_run)
            return 200, answer, changed, {}, "application/json"
        if method == "DELETE":
            if "deletecollection" not in res.verbs:
                raise ApiError(405, "the server does not allow this method on the requested resource")
            labels = label_selector(first(query, "labelSelector"))
            fields = field_selector(first(query, "fieldSelector"))
            answer, changed = self.app.store.delete_collection(res, ns, labels, fields, options.dry_run)
            return 200, self.list_body(res, *answer), changed, {}, "application/json"
        raise ApiError(405, "the server does not allow this method on the requested resource")

    def target(self, parts):
        """(resource, namespace or None, name or None) of an API path."""
        if len(parts) >= 2 and parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise no_such_path()
        # .../namespaces/<ns>/<plural>[/<name>], or <plural>[/<name>] (which
        # is also how a namespace itself is named: namespaces/<name>).
        ns = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            ns, rest = rest[1], rest[2:]
        if not rest or len(rest) > 2:
            raise no_such_path()  # subresources (status, scale) are not served
        res = self.app.store.resource(group, version, rest[0])
        if res is None or (ns is not None and not res.namespaced):
            raise no_such_path()
        return res, ns, rest[1] if len(rest) == 2 else None

    def decode(self, body, media_types, want=dict):
        """The body, if its Content-Type is one of `media_types`."""
        media = (self.headers.get("Content-Type") or "application/json").split(";")[0].strip()
        if media not in media_types:
            # Protobuf among them: kubectl's typed commands (`create
            # configmap`) send it, and nothing here decodes it.
            raise ApiError(415, "the body of the request was in an unknown format - accepted media types include: "
                           + ", ".join(media_types))
        return parse_body(body, media, want)

    def patch(self, res, ns, name, body, options):
        store = self.app.store
        media = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        kinds = ["application/apply-patch+yaml", "application/merge-patch+json", "application/json-patch+json"]
        if not res.custom:
            # Custom resources have no strategic merge: no patch strategies.
            kinds.insert(2, "application/strategic-merge-patch+json")
        patch = self.decode(body, tuple(kinds), want=list if media == "application/json-patch+json" else dict)
        if media == "application/apply-patch+yaml":
            if not first(options.query, "fieldManager"):
                raise invalid_options("fieldManager", "Required value: is required for apply patch")
            headers = options.unknown_fields(store.check(res, ns, name, patch))
            answer, changed, created = store.apply(res, ns, name, patch, options.manager, options.force,
                                                   options.dry_run)
            return 201 if created else 200, answer, changed, headers, "application/json"
        if first(options.query, "force") is not None:
            raise invalid_options("force", "Forbidden: may not be specified for non-apply patch")
        answer, changed = store.patch(res, ns, name, media, patch, options.manager, options.dry_run)
        return 200, answer, changed, {}, "application/json"

    def discovery(self, parts, accept):
        """A discovery or OpenAPI answer, or None: (code, body, changed, headers, type)."""
        resources = self.app.store.resources()
        versions = group_versions(resources)
        wants_aggregated = "as=APIGroupDiscoveryList" in accept and "v=v2;" in accept.replace("v=v2,", "v=v2;") + ";"

        def ok(body, content_type="application/json"):
            return 200, body, False, {"Vary": "Accept"}, content_type

        if parts == ["version"]:
            return ok(VERSION)
        if parts in (["healthz"], ["readyz"], ["livez"]):
            return 200, b"ok", False, {}, "text/plain; charset=utf-8"
        if parts == ["api"]:
            if wants_aggregated:
                return ok(aggregated(resources, core=True), AGGREGATED)
            return ok({"kind": "APIVersions", "versions": versions.get("", []),
                       "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                       "serverAddress": self.headers.get("Host", "")}]})
        if parts == ["apis"]:
            if wants_aggregated:
                return ok(aggregated(resources, core=False), AGGREGATED)
            return ok({"kind": "APIGroupList", "apiVersion": "v1",
                       "groups": [api_group(g, vs) for g, vs in versions.items() if g]})
        if len(parts) == 2 and parts[0] == "api" and parts[1] in versions.get("", []):
            return ok(resource_list(resources, "", parts[1]))
        if len(parts) == 2 and parts[0] == "apis" and parts[1] in versions and parts[1]:
            return ok({"kind": "APIGroup", "apiVersion": "v1", **api_group(parts[1], versions[parts[1]])})
        if len(parts) == 3 and parts[0] == "apis" and parts[2] in versions.get(parts[1], []) and parts[1]:
            return ok(resource_list(resources, parts[1], parts[2]))
        if parts == ["openapi", "v2"]:
            return 200, OPENAPI_V2, False, {}, "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
        if parts == ["openapi", "v3"]:
            return ok(openapi_v3_index(resources))
        if len(parts) >= 4 and parts[:2] == ["openapi", "v3"]:
            if parts[2] == "api" and len(parts) == 4:
                return ok(openapi_v3(resources, "", parts[3]))
            if parts[2] == "apis" and len(parts) == 5:
                return ok(openapi_v3(resources, parts[3], parts[4]))
        return None

    # -- reading -------------------------------------------------------------

    def list_body(self, res, items, rv, cont=None, remaining=None):
        # Items of built-in lists carry no apiVersion and kind; custom ones do.
        if not res.custom:
            items = [{k: v for k, v in o.items() if k not in ("apiVersion", "kind")} for o in items]
        meta = {"resourceVersion": str(rv)}
        if cont:
            meta["continue"] = cont
            meta["remainingItemCount"] = remaining
        return {"kind": f"{res.kind}List", "apiVersion": res.api_version, "metadata": meta, "items": items}

    def list(self, res, ns, labels, fields, query, accept):
        store = self.app.store
        with store.lock:
            items = store.select(res, ns, labels, fields)
            rv = store.rv
        after = first(query, "continue")
        if after:
            try:
                start = json.loads(base64.urlsafe_b64decode(after.encode()).decode())
            except (ValueError, UnicodeDecodeError):
                raise ApiError(400, "continue key is not valid") from None
            items = [o for o in items if [o["metadata"].get("namespace", ""), o["metadata"]["name"]] > start]
        limit = first(query, "limit")
        cont, remaining = None, None
        if limit and limit.isdigit() and int(limit) > 0 and len(items) > int(limit):
            items, rest = items[: int(limit)], items[int(limit):]
            last = items[-1]["metadata"]
            cont = base64.urlsafe_b64encode(json.dumps([last.get("namespace", ""), last["name"]]).encode()).decode()
            remaining = len(rest)
        if "as=Table" in accept:
            return self.as_table(res, items, accept, query, rv=rv, cont=cont)
        return self.list_body(res, items, rv, cont, remaining)

    def as_table(self, res, items, accept, query, single=False, rv=None, cont=None):
        """A meta.k8s.io Table, as `kubectl get` asks for; the object itself otherwise."""
        if "as=Table" not in accept:
            return items[0]
        include = first(query, "includeObject", "PartialObjectMetadata")
        rows = []
        for obj in items:
            row = {"cells": [obj["metadata"]["name"], obj["metadata"].get("creationTimestamp")]}
            if include == "Object":
                row["object"] = obj
            elif include == "PartialObjectMetadata":
                row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                 "metadata": obj["metadata"]}
            rows.append(row)
        meta = {"resourceVersion": str(rv) if rv is not None else items[0]["metadata"].get("resourceVersion", "")}
        if cont:
            meta["continue"] = cont
        return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
                "columnDefinitions": [
                    {"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0},
                    {"name": "Created At", "type": "date", "format": "", "description": "Created", "priority": 0}],
                "rows": rows}

    def client_left(self):
        """A watching client sends nothing more: anything readable is its leaving."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def watch(self, res, ns, labels, fields, query):
        """Streams watch events (chunked) until the timeout or the client leaves."""
        store = self.app.store
        try:
            timeout = min(float(first(query, "timeoutSeconds", self.app.watch_timeout)), self.app.watch_timeout)
        except ValueError:
            raise bad_request("timeoutSeconds must be a number") from None
        since = first(query, "resourceVersion")
        initial = first(query, "sendInitialEvents") == "true"

        def matches(obj):
            meta = obj["metadata"]
            return (not ns or meta.get("namespace") == ns) and labels(meta.get("labels")) and fields(obj)

        events = []
        with store.lock:
            if since in (None, "", "0") or initial:
                events = [("ADDED", o) for o in store.select(res, ns, labels, fields)]
                cursor = store.rv
            else:
                try:
                    cursor = int(since)
                except ValueError:
                    raise bad_request(f"invalid resource version {since!r}") from None
                oldest = store.events[0][0] if store.events else store.rv + 1
                if cursor < oldest - 1 and cursor < store.rv:
                    events = [("ERROR", ApiError(410, f"too old resource version: {cursor} ({store.rv})",
                                                 reason="Expired").status())]
        if initial:
            events.append(("BOOKMARK", {"kind": res.kind, "apiVersion": res.api_version, "metadata": {
                "resourceVersion": str(cursor), "annotations": {"k8s.io/initial-events-end": "true"}}}))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def emit(kind, obj):
            data = json.dumps({"type": kind, "object": obj}, separators=(",", ":")).encode() + b"\n"
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        deadline = time.monotonic() + timeout
        try:
            for kind, obj in events:
                emit(kind, obj)
            while events[-1:][0][0] != "ERROR" if events else True:
                with store.lock:
                    fresh = [(rv, k, r, o) for rv, k, r, o in store.events if rv > cursor]
                    if not fresh:
                        left = deadline - time.monotonic()
                        if left <= 0 or self.client_left():
                            break
                        store.changed.wait(min(left, 0.2))
                        continue
                cursor = fresh[-1][0]
                for _, kind, r, obj in fresh:
                    if (r.group, r.plural) == (res.group, res.plural) and matches(obj):
                        emit(kind, obj)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True


def invalid_options(field_name, message):
    return ApiError(
        422, f'PatchOptions.meta.k8s.io "" is invalid: {field_name}: {message}',
        details={"group": "meta.k8s.io", "kind": "PatchOptions",
                 "causes": [{"reason": "FieldValueInvalid", "message": message, "field": field_name}]},
    )


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that goes away mid-request (a timeout, a failed TLS
        # handshake) is not the server's error.
        error = sys.exc_info()[1]
        if not isinstance(error, (ConnectionError, ssl.SSLError, TimeoutError, OSError)):
            super().handle_error(request, client_address)


def write_atomically(path, text):
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv=None):
    p = argparse.ArgumentParser(description="A small fake Kubernetes API server for tests.")
    p.add_argument("--port", type=int, default=0, help="the port (default: a free one)")
    p.add_argument("--port-file", help="write the port here once listening")
    p.add_argument("--control-port-file", help="also serve /_fake/ over plain HTTP; its port goes here")
    p.add_argument("--log", help="append every request here as JSON lines")
    p.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    p.add_argument("--tls-key", help="and this key (PEM)")
    p.add_argument("--client-ca", help="accept client certificates this CA signed")
    p.add_argument("--token", help="the bearer token of a user who may do anything")
    p.add_argument("--read-token", help="the bearer token of a user who may only read")
    p.add_argument("--watch-timeout", type=float, default=30.0, help="the longest watch, in seconds")
    p.add_argument("--bare", action="store_true", help="start empty: no namespaces, no CRDs")
    args = p.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
    if args.client_ca and not args.tls_cert:
        p.error("--client-ca needs --tls-cert")

    app = App(args)
    handler = type("ApiHandler", (Handler,), {"app": app})
    server = Server(("127.0.0.1", args.port), handler)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        ctx.set_alpn_protocols(["http/1.1"])
        if args.client_ca:
            ctx.verify_mode = ssl.CERT_OPTIONAL
            ctx.load_verify_locations(args.client_ca)
        server.socket = ctx.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    if args.control_port_file:
        control = Server(("127.0.0.1", 0), type("ControlHandler", (Handler,), {"app": app, "control_only": True}))
        threading.Thread(target=control.serve_forever, daemon=True).start()
        write_atomically(args.control_port_file, f"{control.server_address[1]}\n")
    port = server.server_address[1]
    if args.port_file:
        write_atomically(args.port_file, f"{port}\n")
    print(port, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
