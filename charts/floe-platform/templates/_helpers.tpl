{{/*
Names, labels, security contexts and the shared PostgreSQL of floe-platform.
*/}}

{{/*
The prefix of every object: fixed, because the configuration floe generates
names these Services (`floe-platform-otel-collector`, `floe-platform-polaris`, …).
*/}}
{{- define "floe.fullname" -}}
floe-platform
{{- end -}}

{{/* The name of a component's objects: `floe-platform-<component>`. */}}
{{- define "floe.name" -}}
{{- printf "%s-%s" (include "floe.fullname" .ctx) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object of a component. */}}
{{- define "floe.labels" -}}
{{ include "floe.selectorLabels" . }}
app.kubernetes.io/part-of: floe
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" }}
{{- with .ctx.Values.global.platform }}
{{- with .name }}
floe.dev/platform: {{ . | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* What a component's Services and controllers select its pods by. */}}
{{- define "floe.selectorLabels" -}}
app.kubernetes.io/name: {{ .component }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- end -}}

{{/* metadata: name (`.name`, else the component's), namespace and labels of a component's object. */}}
{{- define "floe.metadata" -}}
name: {{ .name | default (include "floe.name" .) }}
namespace: {{ .ctx.Release.Namespace }}
labels:
  {{- include "floe.labels" . | nindent 2 }}
{{- end -}}

{{/* An image reference, `repository:tag` (tags are pinned in values.yaml). */}}
{{- define "floe.image" -}}
{{- printf "%s:%s" .repository .tag -}}
{{- end -}}

{{/*
The pod security context of Pod Security `restricted`: a fixed non-root
user (images that default to root get one), and the runtime's seccomp profile.
*/}}
{{- define "floe.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
{{- $gid := ternary .gid .uid (hasKey . "gid") }}
runAsGroup: {{ $gid }}
fsGroup: {{ $gid }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
A container's security context: no privilege escalation, every capability
dropped, and a read-only root filesystem unless the image writes to it (the
exceptions are listed in the chart's README).
*/}}
{{- define "floe.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: {{ ternary "false" "true" (default false .writableRoot) }}
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* A URL with a scheme, for `urlParse` (`host:port` has none). */}}
{{- define "floe.url" -}}
{{- if contains "://" . }}{{ . }}{{ else }}{{ printf "http://%s" . }}{{ end -}}
{{- end -}}

{{/* The host of a URL, without its port. */}}
{{- define "floe.host" -}}
{{- $host := (urlParse (include "floe.url" .)).host -}}
{{- (splitList ":" $host) | first -}}
{{- end -}}

{{/* The port of a URL (`.url`), else `.default`. */}}
{{- define "floe.port" -}}
{{- $host := (urlParse (include "floe.url" .url)).host -}}
{{- $parts := splitList ":" $host -}}
{{- if gt (len $parts) 1 }}{{ last $parts }}{{ else }}{{ .default }}{{ end -}}
{{- end -}}

{{/*
"true" when a URL names a Service in the cluster (a host without dots, or one
under `.svc` or `.cluster.local`), as floe decides whether it deploys a service.
*/}}
{{- define "floe.inCluster" -}}
{{- $host := include "floe.host" . -}}
{{- if or (not (contains "." $host)) (hasSuffix ".svc" $host) (hasSuffix ".cluster.local" $host) }}true{{ end -}}
{{- end -}}

{{/*
The Service a component answers as: the Service an in-cluster URL of floe's
configuration names (`.url`), else `floe-platform-<component>`.
*/}}
{{- define "floe.serviceName" -}}
{{- if and .url (include "floe.inCluster" .url) -}}
{{- include "floe.host" .url | splitList "." | first -}}
{{- else -}}
{{- include "floe.name" . -}}
{{- end -}}
{{- end -}}

{{/* The type of the selected plugin of a category (`.category`), or "". */}}
{{- define "floe.plugin" -}}
{{- $plugins := (.ctx.Values.global.plugins | default dict) -}}
{{- (get $plugins .category | default dict).type | default "" -}}
{{- end -}}

{{/*
Whether a service floe does not switch itself runs: its `enabled` when set,
else `.default` (derived from the plugin selection).
*/}}
{{- define "floe.switch" -}}
{{- if hasKey .values "enabled" -}}
{{- if .values.enabled }}true{{ end -}}
{{- else if .default -}}
true
{{- end -}}
{{- end -}}

{{- define "floe.otelCollector.enabled" -}}
{{- $values := index .Values "opentelemetry-collector" -}}
{{- include "floe.switch" (dict "values" $values "default" (include "floe.plugin" (dict "ctx" . "category" "telemetry_backend"))) -}}
{{- end -}}

{{/* Jaeger's OTLP endpoint: the collector's `otlp/jaeger` exporter's. */}}
{{- define "floe.jaeger.endpoint" -}}
{{- $config := (index .Values "opentelemetry-collector").config | default dict -}}
{{- $exporter := get ($config.exporters | default dict) "otlp/jaeger" | default dict -}}
{{- $exporter.endpoint | default "" -}}
{{- end -}}

{{- define "floe.jaeger.enabled" -}}
{{- $endpoint := include "floe.jaeger.endpoint" . -}}
{{- $default := and (include "floe.otelCollector.enabled" .) $endpoint (include "floe.inCluster" $endpoint) -}}
{{- include "floe.switch" (dict "values" .Values.jaeger "default" $default) -}}
{{- end -}}

{{- define "floe.marquez.enabled" -}}
{{- $default := eq (include "floe.plugin" (dict "ctx" . "category" "lineage_backend")) "marquez" -}}
{{- include "floe.switch" (dict "values" .Values.marquez "default" $default) -}}
{{- end -}}

{{- define "floe.prometheus.enabled" -}}
{{- $default := include "floe.plugin" (dict "ctx" . "category" "alert_channel") -}}
{{- include "floe.switch" (dict "values" .Values.prometheus "default" $default) -}}
{{- end -}}

{{- define "floe.alertmanager.enabled" -}}
{{- if and (include "floe.prometheus.enabled" .) .Values.prometheus.alertmanager.enabled }}true{{ end -}}
{{- end -}}

{{/* The Secret with a component database's `username` and `password`. */}}
{{- define "floe.database.secret" -}}
{{- .values.database.existingSecret | default (printf "%s-db" (include "floe.name" .)) -}}
{{- end -}}

{{/* The Service of a component's PostgreSQL. */}}
{{- define "floe.database.host" -}}
{{- include "floe.name" (dict "ctx" .ctx "component" (printf "%s-postgresql" .component)) -}}
{{- end -}}

{{/* Environment variables with a component database's credentials. */}}
{{- define "floe.database.env" -}}
- name: {{ .prefix }}USER
  valueFrom:
    secretKeyRef:
      name: {{ include "floe.database.secret" . }}
      key: username
- name: {{ .prefix }}PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "floe.database.secret" . }}
      key: password
{{- end -}}

{{/*
A component's own PostgreSQL: a StatefulSet of the official image run as its
`postgres` user (uid 999) with a read-only root filesystem, and its Service.
The credentials come from the component's database Secret.
*/}}
{{- define "floe.postgresql" -}}
{{- $component := printf "%s-postgresql" .component -}}
{{- $ctx := .ctx -}}
{{- $pg := $ctx.Values.postgresql -}}
{{- $db := .values.database -}}
{{- $scope := dict "ctx" $ctx "component" $component -}}
---
apiVersion: v1
kind: Service
metadata:
  {{- include "floe.metadata" $scope | nindent 2 }}
spec:
  selector:
    {{- include "floe.selectorLabels" $scope | nindent 4 }}
  ports:
    - name: postgresql
      port: 5432
      targetPort: postgresql
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  {{- include "floe.metadata" $scope | nindent 2 }}
spec:
  serviceName: {{ include "floe.name" $scope }}
  replicas: 1
  selector:
    matchLabels:
      {{- include "floe.selectorLabels" $scope | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "floe.labels" $scope | nindent 8 }}
    spec:
      automountServiceAccountToken: false
      securityContext:
        {{- include "floe.podSecurityContext" (dict "uid" 999) | nindent 8 }}
      containers:
        - name: postgresql
          image: {{ include "floe.image" $pg.image }}
          imagePullPolicy: IfNotPresent
          env:
            {{- include "floe.database.env" (dict "ctx" $ctx "component" .component "values" .values "prefix" "POSTGRES_") | nindent 12 }}
            - name: POSTGRES_DB
              value: {{ $db.name | quote }}
            - name: PGDATA
              value: /var/lib/postgresql/data/pgdata
          ports:
            - name: postgresql
              containerPort: 5432
          readinessProbe:
            exec:
              command: ["sh", "-c", "pg_isready -U \"$POSTGRES_USER\" -d \"$POSTGRES_DB\" -h 127.0.0.1"]
            periodSeconds: 10
          livenessProbe:
            tcpSocket:
              port: postgresql
            initialDelaySeconds: 30
            periodSeconds: 20
          resources:
            {{- toYaml $pg.resources | nindent 12 }}
          securityContext:
            {{- include "floe.containerSecurityContext" dict | nindent 12 }}
          volumeMounts:
            - name: data
              mountPath: /var/lib/postgresql/data
            - name: run
              mountPath: /var/run/postgresql
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: run
          emptyDir: {}
        - name: tmp
          emptyDir: {}
  volumeClaimTemplates:
    - metadata:
        name: data
        labels:
          {{- include "floe.selectorLabels" $scope | nindent 10 }}
      spec:
        accessModes: [ReadWriteOnce]
        resources:
          requests:
            storage: {{ $db.size | quote }}
{{- end -}}
