{{/*
Labels and annotations of a product's objects, the same on every object.
Every value from the values is quoted: a name such as `1234`, an image
`10:30` or a variable `ON` is a string, never a YAML number or boolean.
*/}}

{{/* Labels of a product's objects. */}}
{{- define "floe-jobs.labels" -}}
app.kubernetes.io/managed-by: floe
app.kubernetes.io/name: {{ .name | quote }}
app.kubernetes.io/part-of: floe
app.kubernetes.io/version: {{ .version | quote }}
floe.dev/product: {{ .name | quote }}
floe.dev/domain: {{ .domain | quote }}
{{- end -}}

{{/* Name, namespace, labels and annotations of a product's object named `.objectName`. */}}
{{- define "floe-jobs.metadata" -}}
name: {{ .objectName | quote }}
namespace: {{ .product.namespace | quote }}
labels:
  {{- include "floe-jobs.labels" .product | nindent 2 }}
annotations:
  floe.dev/derivation: {{ .product.derivation | quote }}
  floe.dev/package: {{ .product.package | quote }}
{{- end -}}

{{/* The ConfigMap with a product's compiled artifacts and dbt profile. */}}
{{- define "floe-jobs.configMapName" -}}
{{- printf "%s-artifacts" .name -}}
{{- end -}}

{{/*
The pod a product's run is: its image and command, the artifacts mounted
read-only, secrets only through secretKeyRef, and Pod Security `restricted`
with a read-only root filesystem (dbt writes under /tmp).
*/}}
{{- define "floe-jobs.pod" -}}
metadata:
  labels:
    {{- include "floe-jobs.labels" . | nindent 4 }}
  annotations:
    floe.dev/derivation: {{ .derivation | quote }}
spec:
  restartPolicy: Never
  serviceAccountName: {{ .serviceAccountName | quote }}
  securityContext:
    runAsNonRoot: true
    runAsUser: 65532
    runAsGroup: 65532
    fsGroup: 65532
    seccompProfile:
      type: RuntimeDefault
  containers:
    - name: run
      image: {{ printf "%s:%s" .image.repository .image.tag | quote }}
      imagePullPolicy: IfNotPresent
      command:
        {{- toYaml .command | nindent 8 }}
      {{- with .args }}
      args:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      env:
        - name: FLOE_ARTIFACTS
          value: /opt/floe/artifacts/compiled_artifacts.json
        - name: DBT_PROFILES_DIR
          value: /opt/floe/artifacts
        - name: DBT_TARGET_PATH
          value: /tmp/dbt/target
        - name: DBT_LOG_PATH
          value: /tmp/dbt/logs
        - name: HOME
          value: /tmp
        {{- range .env }}
        - name: {{ .name | quote }}
          value: {{ .value | quote }}
        {{- end }}
        {{- range .secretEnv }}
        - name: {{ .name | quote }}
          valueFrom:
            secretKeyRef:
              name: {{ .secretName | quote }}
              key: {{ .key | quote }}
        {{- end }}
      resources:
        requests:
          cpu: {{ .resources.requests.cpu | quote }}
          memory: {{ .resources.requests.memory | quote }}
        limits:
          cpu: {{ .resources.limits.cpu | quote }}
          memory: {{ .resources.limits.memory | quote }}
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        runAsNonRoot: true
        capabilities:
          drop: [ALL]
        seccompProfile:
          type: RuntimeDefault
      volumeMounts:
        - name: artifacts
          mountPath: /opt/floe/artifacts
          readOnly: true
        - name: tmp
          mountPath: /tmp
  volumes:
    - name: artifacts
      configMap:
        name: {{ include "floe-jobs.configMapName" . | quote }}
    - name: tmp
      emptyDir: {}
{{- end -}}
