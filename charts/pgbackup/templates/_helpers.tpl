{{/*
Names and labels shared by every template.
*/}}

{{/* The chart's name, overridable with nameOverride. */}}
{{- define "pgbackup.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The release's base name: fullnameOverride, else the release name when it
already contains the chart name, else "<release>-<chart>". 63 characters at
most, since it names Services.
*/}}
{{- define "pgbackup.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* "<chart>-<version>" for the helm.sh/chart label. */}}
{{- define "pgbackup.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object of the release. */}}
{{- define "pgbackup.labels" -}}
helm.sh/chart: {{ include "pgbackup.chart" . }}
app.kubernetes.io/name: {{ include "pgbackup.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- with .Chart.AppVersion }}
app.kubernetes.io/version: {{ . | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels of the controller's objects. */}}
{{- define "pgbackup.controllerLabels" -}}
{{ include "pgbackup.labels" . }}
app.kubernetes.io/component: controller
{{- end }}

{{/* Selector of the controller's pods; never changes after install. */}}
{{- define "pgbackup.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pgbackup.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end }}

{{/* The controller's ServiceAccount. */}}
{{- define "pgbackup.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "pgbackup.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The controller's ClusterRole (rules generated from the code's markers). */}}
{{- define "pgbackup.controllerRoleName" -}}
{{- printf "%s-controller" (include "pgbackup.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
An image reference from {registry, repository, tag, digest}: the digest wins
over the tag; the tag defaults to the chart's appVersion.
Usage: include "pgbackup.image" (dict "image" .Values.image "context" .)
*/}}
{{- define "pgbackup.image" -}}
{{- $repo := .image.repository }}
{{- if .image.registry }}
{{- $repo = printf "%s/%s" (trimSuffix "/" .image.registry) .image.repository }}
{{- end }}
{{- if .image.digest }}
{{- printf "%s@%s" $repo .image.digest }}
{{- else }}
{{- printf "%s:%s" $repo (default .context.Chart.AppVersion .image.tag) }}
{{- end }}
{{- end }}

{{/* The namespace of the ServiceMonitor and PrometheusRule. */}}
{{- define "pgbackup.monitoringNamespace" -}}
{{- default .Release.Namespace .namespace }}
{{- end }}

{{/*
Seconds in a duration of one unit, such as "26h", "90m", "7d" or "3600s"
(values.schema.json allows only these forms).
*/}}
{{- define "pgbackup.seconds" -}}
{{- $units := dict "s" 1 "m" 60 "h" 3600 "d" 86400 }}
{{- $unit := substr (int (sub (len .) 1)) (len .) . }}
{{- mul (int (trimSuffix $unit .)) (get $units $unit) }}
{{- end }}
