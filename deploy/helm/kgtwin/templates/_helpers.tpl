{{/* Names: <release>-kgtwin, or the release name when it already says kgtwin. */}}
{{- define "kgtwin.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kgtwin.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A component's object name: <fullname>-<component>. Call with (list $ "api"). */}}
{{- define "kgtwin.componentName" -}}
{{- $root := index . 0 -}}
{{- printf "%s-%s" (include "kgtwin.fullname" $root | trunc 50 | trimSuffix "-") (index . 1) -}}
{{- end -}}

{{- define "kgtwin.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "kgtwin.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kgtwin
{{- end -}}

{{/* Selector labels of one component. Call with (list $ "api"). */}}
{{- define "kgtwin.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "kgtwin.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "kgtwin.componentLabels" -}}
{{ include "kgtwin.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "kgtwin.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "kgtwin.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kgtwin.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "kgtwin.secretName" -}}
{{- default (include "kgtwin.fullname" .) .Values.backends.existingSecret -}}
{{- end -}}

{{/*
A setting's value as its environment variable holds it: strings as they are, whole
numbers without an exponent (YAML numbers reach templates as floats), everything else
as JSON, which pydantic-settings reads for lists, tables and booleans.
*/}}
{{- define "kgtwin.settingValue" -}}
{{- if kindIs "string" . -}}
{{- . -}}
{{- else if and (kindIs "float64" .) (eq (floor .) .) -}}
{{- int64 . -}}
{{- else -}}
{{- toJson . -}}
{{- end -}}
{{- end -}}

{{/* The seconds kgtwin may spend stopping: the pod's grace less any preStop sleep, less 5 s for exit. */}}
{{- define "kgtwin.shutdownGrace" -}}
{{- $grace := index . 0 -}}
{{- $preStop := index . 1 -}}
{{- max 1 (sub (sub (int $grace) (int $preStop)) 5) -}}
{{- end -}}

{{- define "kgtwin.workerGrace" -}}
{{- if .Values.worker.terminationGracePeriodSeconds -}}
{{- int .Values.worker.terminationGracePeriodSeconds -}}
{{- else -}}
{{- add (int (ceil (default 30 .Values.settings.worker_lease_s))) 15 -}}
{{- end -}}
{{- end -}}

{{/* What every kgtwin pod shares: service account, security, the /tmp volume. */}}
{{- define "kgtwin.podSpecCommon" -}}
serviceAccountName: {{ include "kgtwin.serviceAccountName" . }}
automountServiceAccountToken: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end -}}

{{/* Pod annotations: config checksums (a changed setting rolls the pods) and scraping. Call with (list $ port extra). */}}
{{- define "kgtwin.podAnnotations" -}}
{{- $root := index . 0 -}}
checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
checksum/secret: {{ include (print $root.Template.BasePath "/secret.yaml") $root | sha256sum }}
{{- if $root.Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ index . 1 | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- with index . 2 }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The container fields every kgtwin container shares. */}}
{{- define "kgtwin.containerCommon" -}}
image: {{ include "kgtwin.image" . }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
envFrom:
  - configMapRef:
      name: {{ include "kgtwin.fullname" . }}
  - secretRef:
      name: {{ include "kgtwin.secretName" . }}
      optional: {{ not .Values.backends.existingSecret }}
{{- end -}}

{{/* Probes on one port: started and alive by /healthz, in rotation by /readyz. */}}
{{- define "kgtwin.probes" -}}
startupProbe:
  httpGet: {path: /healthz, port: {{ . }}}
  periodSeconds: 2
  timeoutSeconds: 3
  failureThreshold: 90
livenessProbe:
  httpGet: {path: /healthz, port: {{ . }}}
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
readinessProbe:
  httpGet: {path: /readyz, port: {{ . }}}
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 2
{{- end -}}

{{- define "kgtwin.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 1Gi
{{- end -}}

{{/* Scheduling of one component's pods: its own values. Call with the component's values. */}}
{{- define "kgtwin.scheduling" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
