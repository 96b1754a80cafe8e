{{/*
Object names are upstream Kubemacpool's, fixed: alerts, recording rules, the network add-ons operator and the
namespace labels users set refer to them. They are defined once here.
*/}}
{{- define "kubemacpool.deploymentName" -}}kubemacpool-mac-controller-manager{{- end }}
{{- define "kubemacpool.serviceAccountName" -}}kubemacpool-sa{{- end }}
{{- define "kubemacpool.webhookConfigurationName" -}}kubemacpool-mutator{{- end }}
{{- define "kubemacpool.serviceName" -}}kubemacpool-service{{- end }}
{{- define "kubemacpool.metricsServiceName" -}}kubemacpool-metrics-service{{- end }}
{{- define "kubemacpool.rangeConfigMapName" -}}kubemacpool-mac-range-config{{- end }}
{{/* The Secrets the manager creates and renews (not chart objects: the manager owns them). */}}
{{- define "kubemacpool.servingSecretName" -}}kubemacpool-service{{- end }}
{{- define "kubemacpool.caSecretName" -}}{{ include "kubemacpool.webhookConfigurationName" . }}-ca{{- end }}

{{/* Labels of every object but Pod templates. helm.sh/chart changes with each chart version: never in a selector. */}}
{{- define "kubemacpool.labels" -}}
app.kubernetes.io/name: kubemacpool
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{/* Labels of Pod templates: what does not change with a chart or app version. */}}
{{- define "kubemacpool.podLabels" -}}
app.kubernetes.io/name: kubemacpool
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Upstream's selector of the manager Pods (its Services, NetworkPolicies and ServiceMonitor select by it). */}}
{{- define "kubemacpool.selectorLabels" -}}
control-plane: mac-controller-manager
{{- end }}

{{/* image: repository@digest when a digest is given, else repository:tag (tag defaults to appVersion). */}}
{{- define "kubemacpool.image" -}}
{{- if .digest -}}
{{ .repository }}@{{ .digest }}
{{- else -}}
{{ .repository }}:{{ .tag | default $.appVersion }}
{{- end -}}
{{- end }}

{{- define "kubemacpool.managerImage" -}}
{{ include "kubemacpool.image" (merge (dict "appVersion" .Chart.AppVersion) .Values.image) }}
{{- end }}

{{/* The namespaceSelector expression of an opt mode, exactly as upstream writes it (the manager reads it back). */}}
{{- define "kubemacpool.optModeExpression" -}}
- key: {{ .webhook }}
  operator: {{ if eq .mode "opt-in" }}In{{ else }}NotIn{{ end }}
  values:
    - {{ if eq .mode "opt-in" }}allocate{{ else }}ignore{{ end }}
{{- end }}

{{/* The image's layout (Dockerfile): Node.js and the built manager. */}}
{{- define "kubemacpool.node" -}}/nodejs/bin/node{{- end }}
{{- define "kubemacpool.chartHooks" -}}/app/dist/chart-hooks.js{{- end }}

{{/* The restricted security context of the chart's helper Pods (helm test, the pre-delete hook). */}}
{{- define "kubemacpool.helperPodSpec" -}}
restartPolicy: Never
automountServiceAccountToken: {{ .automountToken }}
enableServiceLinks: false
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- with .root.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .root.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
