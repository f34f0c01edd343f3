{{- define "lms.labels" -}}
app.kubernetes.io/name: lms
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}
