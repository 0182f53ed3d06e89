{{/*
The prefix of every object's name: the release name, followed by
"-hookwarden" unless it already contains it. Released as "hookwarden", the
objects carry the names config/default gives them.
*/}}
{{- define "hookwarden.fullname" -}}
{{- if contains "hookwarden" .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-hookwarden" .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels on every object the chart writes itself. */}}
{{- define "hookwarden.labels" -}}
app.kubernetes.io/name: hookwarden
{{ include "hookwarden.releaseLabels" . }}
{{- end -}}

{{/* The release's labels, also on the objects generated from the code (CRDs, the manager's role). */}}
{{- define "hookwarden.releaseLabels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* The manager's pods, as the Deployment and the Services select them. */}}
{{- define "hookwarden.selectorLabels" -}}
app.kubernetes.io/name: hookwarden
app.kubernetes.io/component: manager
{{- end -}}

{{- define "hookwarden.serviceAccountName" -}}
{{ include "hookwarden.fullname" . }}-controller-manager
{{- end -}}

{{- define "hookwarden.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* The ConfigMap holding extra CAs, if any. */}}
{{- define "hookwarden.caConfigMap" -}}
{{- if .Values.extraCA.configMapName -}}
{{ .Values.extraCA.configMapName }}
{{- else if .Values.extraCA.pem -}}
{{ include "hookwarden.fullname" . }}-extra-ca
{{- end -}}
{{- end -}}

{{/* The receiver's pods in the split layout. */}}
{{- define "hookwarden.receiverSelectorLabels" -}}
app.kubernetes.io/name: hookwarden
app.kubernetes.io/component: receiver
{{- end -}}

{{- define "hookwarden.split" -}}
{{- if eq .Values.layout "split" }}true{{ else if ne .Values.layout "single" }}{{ fail (printf "layout is %q: set it to single (one Deployment) or split (the receiver as its own Deployment, holding no GitHub token)" .Values.layout) }}{{ else if or .Values.receiver.extraArgs .Values.receiver.extraEnv }}{{ fail "receiver.extraArgs and receiver.extraEnv are for layout: split, where the receiver is a Deployment of its own; with layout: single give them in extraArgs and extraEnv" }}{{ end -}}
{{- end -}}
