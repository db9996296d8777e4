{{/* The name of every object: the release name, with the chart's unless it has it. */}}
{{- define "mfabot.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "mfabot.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "mfabot.labels" -}}
{{ include "mfabot.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* "true" when the database is PostgreSQL, "" for SQLite. */}}
{{- define "mfabot.postgres" -}}
{{- if or .Values.database.postgres.url .Values.database.postgres.existingSecret -}}true{{- end -}}
{{- end -}}

{{/* The Secret holding the environment's secrets. */}}
{{- define "mfabot.secretName" -}}
{{- .Values.secrets.existingSecret | default (include "mfabot.fullname" .) -}}
{{- end -}}

{{/* The Secret holding the PostgreSQL URL, and its key. */}}
{{- define "mfabot.dbSecretName" -}}
{{- .Values.database.postgres.existingSecret | default (printf "%s-db" (include "mfabot.fullname" .)) -}}
{{- end -}}
{{- define "mfabot.dbSecretKey" -}}
{{- if .Values.database.postgres.existingSecret -}}{{ .Values.database.postgres.existingSecretKey | default "url" }}{{- else -}}url{{- end -}}
{{- end -}}

{{- define "mfabot.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "mfabot.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{/*
The values the chart refuses, each with what to do instead. Rendering fails with the
first one found.
*/}}
{{- define "mfabot.validate" -}}
{{- $pg := include "mfabot.postgres" . -}}
{{- $replicas := int .Values.replicaCount -}}
{{- if and (gt $replicas 1) (not $pg) -}}
{{- fail (printf "replicaCount %d needs PostgreSQL: SQLite takes one writer on one volume. Set database.postgres.url or database.postgres.existingSecret, or set replicaCount to 1" $replicas) -}}
{{- end -}}
{{- with .Values.database.postgres.url -}}
{{- if not (or (hasPrefix "postgres://" (lower .)) (hasPrefix "postgresql://" (lower .))) -}}
{{- fail "database.postgres.url must be a PostgreSQL URL: postgres://… or postgresql://…" -}}
{{- end -}}
{{- end -}}
{{- if and .Values.database.postgres.url .Values.database.postgres.existingSecret -}}
{{- fail "set database.postgres.url or database.postgres.existingSecret, not both" -}}
{{- end -}}
{{- range $key := list "db" "db_file" "listen" -}}
{{- if hasKey $.Values.config $key -}}
{{- fail (printf "config.%s is set by the chart: use database (the database) and service (the port) instead" $key) -}}
{{- end -}}
{{- end -}}
{{- $secrets := dict "graph" (list "client_secret") "slack" (list "bot_token" "signing_secret" "app_token") "teams" (list "app_password") -}}
{{- range $section, $keys := $secrets -}}
{{- $s := get $.Values.config $section | default dict -}}
{{- range $key := $keys -}}
{{- if hasKey $s $key -}}
{{- fail (printf "config.%s.%s is a secret: mfabot refuses it in mfabot.yaml; put it in secrets (its environment variable) instead" $section $key) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
