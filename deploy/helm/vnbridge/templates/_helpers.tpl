{{- define "vnbridge.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "vnbridge.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/part-of: vnbridge
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* selector labels of one component: (dict "ctx" $ "component" "discovery") */}}
{{- define "vnbridge.selector" -}}
app.kubernetes.io/name: vnbridge-{{ .component }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- end -}}

{{- define "vnbridge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "vnbridge.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "vnbridge.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* the port of a host:port listen address */}}
{{- define "vnbridge.port" -}}
{{- splitList ":" . | last -}}
{{- end -}}

{{- define "vnbridge.discoveryPort" -}}
{{- include "vnbridge.port" (dig "http_sd" "listen" "0.0.0.0:8080" .Values.discovery.config) -}}
{{- end -}}

{{/* discovery's http_sd URL inside the cluster (https when http_sd.tls.enabled) */}}
{{- define "vnbridge.targetsURL" -}}
{{- $scheme := ternary "https" "http" (dig "http_sd" "tls" "enabled" false .Values.discovery.config) -}}
{{- printf "%s://%s-discovery.%s.svc:%s/targets" $scheme (include "vnbridge.fullname" .) .Release.Namespace (include "vnbridge.discoveryPort" .) -}}
{{- end -}}

{{- define "vnbridge.discoveryConfig" -}}
{{- $mb := printf "%s-metricsbridge.%s.svc:%s" (include "vnbridge.fullname" .) .Release.Namespace (include "vnbridge.port" .Values.metricsbridge.config.listen) -}}
{{- $base := dict "targets" .Values.targets "metricsbridge_address" (ternary $mb "" .Values.metricsbridge.enabled) -}}
{{- $_ := set $base "metricsbridge_scheme" (ternary "https" "http" (dig "listen_tls" "enabled" false .Values.metricsbridge.config)) -}}
{{- toYaml (mergeOverwrite $base (deepCopy .Values.discovery.config)) -}}
{{- end -}}

{{- define "vnbridge.metricsbridgeConfig" -}}
{{- toYaml (mergeOverwrite (dict "targets" .Values.targets) (deepCopy .Values.metricsbridge.config)) -}}
{{- end -}}

{{/* Whether a component serves HTTPS (its own TLS setting). */}}
{{- define "vnbridge.tls" -}}
{{- $c := index .ctx.Values .component "config" -}}
{{- if eq .component "discovery" }}{{ dig "http_sd" "tls" "enabled" false $c }}
{{- else if eq .component "metricsbridge" }}{{ dig "listen_tls" "enabled" false $c }}
{{- else }}{{ dig "http" "tls" "enabled" false $c }}{{ end -}}
{{- end -}}

{{- define "vnbridge.podSpecCommon" -}}
serviceAccountName: {{ include "vnbridge.serviceAccountName" .ctx }}
securityContext: {{- toYaml .ctx.Values.podSecurityContext | nindent 2 }}
{{- with .ctx.Values.imagePullSecrets }}
imagePullSecrets: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.nodeSelector }}
nodeSelector: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity: {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The probes of a container: the service's path and scheme, the timings from values
(probes.startup / readiness / liveness: any field of a Probe). */}}
{{- define "vnbridge.probes" -}}
{{- $http := dict "port" "http" "scheme" .scheme -}}
startupProbe: {{- toYaml (merge (dict "httpGet" (merge (dict "path" "/healthz") $http)) .probes.startup) | nindent 2 }}
readinessProbe: {{- toYaml (merge (dict "httpGet" (merge (dict "path" "/readyz") $http)) .probes.readiness) | nindent 2 }}
livenessProbe: {{- toYaml (merge (dict "httpGet" (merge (dict "path" "/healthz") $http)) .probes.liveness) | nindent 2 }}
{{- end -}}

{{/* The config volume mount, extraVolumeMounts and envFrom of a container. */}}
{{- define "vnbridge.mounts" -}}
volumeMounts:
  - {name: config, mountPath: /etc/vnbridge}
{{- with .extraVolumeMounts }}
{{- toYaml . | nindent 2 }}
{{- end }}
{{- with .envFrom }}
envFrom: {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* A service's credentials from Secrets, then the values' env (shared by its pods and
its helm test). */}}
{{- define "vnbridge.env" -}}
{{- $v := .values -}}
{{- if eq .component "logbridge" }}
{{- with $v.elasticsearchSecret }}
- name: VNBRIDGE_LOGBRIDGE_ELASTICSEARCH__USERNAME
  valueFrom: {secretKeyRef: {name: {{ . }}, key: username, optional: true}}
- name: VNBRIDGE_LOGBRIDGE_ELASTICSEARCH__PASSWORD
  valueFrom: {secretKeyRef: {name: {{ . }}, key: password, optional: true}}
- name: VNBRIDGE_LOGBRIDGE_ELASTICSEARCH__API_KEY
  valueFrom: {secretKeyRef: {name: {{ . }}, key: api_key, optional: true}}
{{- end }}
{{- with $v.kafkaSecret }}
- name: VNBRIDGE_LOGBRIDGE_KAFKA__SASL_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ . }}, key: sasl_password}}
{{- end }}
{{- else if $v.tokenSecret }}
- name: {{ ternary "VNBRIDGE_DISCOVERY_HTTP_SD__BEARER_TOKEN" "VNBRIDGE_METRICSBRIDGE_BEARER_TOKEN" (eq .component "discovery") }}
  valueFrom: {secretKeyRef: {name: {{ $v.tokenSecret }}, key: token}}
{{- end }}
{{- with $v.env }}
{{ toYaml . }}
{{- end }}
{{- end -}}
