{{/* hookline chart helpers. */}}
{{- define "hookline.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "hookline.labels" -}}
app.kubernetes.io/name: hookline
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* selector labels of one stage: (dict "root" $ "name" "router") */}}
{{- define "hookline.selector" -}}
app.kubernetes.io/name: hookline
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{/* The daemons the chart runs, space-separated: the four stages, and the API when enabled. */}}
{{- define "hookline.daemons" -}}
ingress router forwarder syncer{{ if .Values.api.enabled }} api{{ end }}
{{- end -}}

{{- define "hookline.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "hookline.serviceAccount" -}}
{{- if .Values.serviceAccount.create -}}{{ .Values.serviceAccount.name | default (include "hookline.fullname" .) }}
{{- else -}}{{ .Values.serviceAccount.name | default "default" }}{{- end -}}
{{- end -}}

{{/* The Secret the chart makes (when some secret value is given inline). */}}
{{- define "hookline.secretName" -}}{{ include "hookline.fullname" . }}-secrets{{- end -}}

{{/* env entries for the secrets: (dict "root" $ "encryption" true|false) */}}
{{- define "hookline.secretEnv" -}}
{{- $v := .root.Values -}}
{{- $own := include "hookline.secretName" .root -}}
- name: HOOKLINE_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $v.postgresql.existingSecret | default $own }}
      key: {{ $v.postgresql.urlKey }}
{{- if hasPrefix "SASL" $v.kafka.securityProtocol }}
- name: HOOKLINE_KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ $v.kafka.sasl.existingSecret | default $own }}
      key: {{ $v.kafka.sasl.usernameKey }}
- name: HOOKLINE_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $v.kafka.sasl.existingSecret | default $own }}
      key: {{ $v.kafka.sasl.passwordKey }}
{{- end }}
{{- if .encryption }}
- name: HOOKLINE_ENCRYPTION_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $v.encryption.existingSecret | default $own }}
      key: {{ $v.encryption.keyKey }}
- name: HOOKLINE_ENCRYPTION_OLD_KEYS
  valueFrom:
    secretKeyRef:
      name: {{ $v.encryption.existingSecret | default $own }}
      key: {{ $v.encryption.oldKeysKey }}
      optional: true
{{- end }}
{{- end -}}

{{/* env shared by every hookline process (daemons and the migrations Job) */}}
{{- define "hookline.commonEnv" -}}
{{- $v := .Values -}}
- name: HOOKLINE_KAFKA_BROKERS
  value: {{ $v.kafka.bootstrapServers | quote }}
- name: HOOKLINE_KAFKA_SECURITY_PROTOCOL
  value: {{ $v.kafka.securityProtocol | quote }}
{{- if hasPrefix "SASL" $v.kafka.securityProtocol }}
- name: HOOKLINE_KAFKA_SASL_MECHANISMS
  value: {{ $v.kafka.sasl.mechanism | quote }}
{{- end }}
{{- if $v.kafka.tls.caSecret }}
- name: HOOKLINE_KAFKA_SSL_CA_LOCATION
  value: /etc/hookline/kafka-ca/{{ $v.kafka.tls.caKey }}
{{- end }}
{{- if $v.kafka.tls.clientCertSecret }}
- name: HOOKLINE_KAFKA_SSL_CERTIFICATE_LOCATION
  value: /etc/hookline/kafka-client/tls.crt
- name: HOOKLINE_KAFKA_SSL_KEY_LOCATION
  value: /etc/hookline/kafka-client/tls.key
{{- end }}
{{- range $k, $val := $v.kafka.extraConfig }}
- name: HOOKLINE_KAFKA_{{ $k | upper | replace "." "_" }}
  value: {{ $val | quote }}
{{- end }}
{{- if $v.postgresql.sslmode }}
- name: PGSSLMODE
  value: {{ $v.postgresql.sslmode | quote }}
{{- end }}
{{- if $v.postgresql.caSecret }}
- name: PGSSLROOTCERT
  value: /etc/hookline/pg-ca/{{ $v.postgresql.caKey }}
{{- end }}
- name: HOOKLINE_TOPIC_RAW
  value: {{ $v.topics.raw.name | quote }}
- name: HOOKLINE_TOPIC_ROUTED
  value: {{ $v.topics.routed.name | quote }}
- name: HOOKLINE_TOPIC_REJECTED
  value: {{ $v.topics.rejected.name | quote }}
- name: HOOKLINE_TOPIC_DEAD_LETTERS
  value: {{ $v.topics.deadLetters.name | quote }}
- name: HOOKLINE_TOPIC_NOTIFICATIONS
  value: {{ $v.topics.notifications.name | quote }}
- name: HOOKLINE_PUBLIC_URL
  value: {{ $v.publicUrl | quote }}
- name: HOOKLINE_LOG_LEVEL
  value: {{ $v.logLevel | quote }}
- name: HOOKLINE_LOG_FORMAT
  value: {{ $v.logFormat | quote }}
{{- range $k, $val := $v.env }}
- name: {{ $k }}
  value: {{ $val | quote }}
{{- end }}
{{- end -}}

{{/* volumes for the CAs and client certificate, and where they are mounted */}}
{{- define "hookline.volumes" -}}
- name: tmp
  emptyDir: {medium: Memory, sizeLimit: 16Mi}
{{- if .Values.kafka.tls.caSecret }}
- name: kafka-ca
  secret: {secretName: {{ .Values.kafka.tls.caSecret }}}
{{- end }}
{{- if .Values.kafka.tls.clientCertSecret }}
- name: kafka-client
  secret: {secretName: {{ .Values.kafka.tls.clientCertSecret }}, defaultMode: 0400}
{{- end }}
{{- if .Values.postgresql.caSecret }}
- name: pg-ca
  secret: {secretName: {{ .Values.postgresql.caSecret }}}
{{- end }}
{{- end -}}
{{- define "hookline.volumeMounts" -}}
- {name: tmp, mountPath: /tmp}
{{- if .Values.kafka.tls.caSecret }}
- {name: kafka-ca, mountPath: /etc/hookline/kafka-ca, readOnly: true}
{{- end }}
{{- if .Values.kafka.tls.clientCertSecret }}
- {name: kafka-client, mountPath: /etc/hookline/kafka-client, readOnly: true}
{{- end }}
{{- if .Values.postgresql.caSecret }}
- {name: pg-ca, mountPath: /etc/hookline/pg-ca, readOnly: true}
{{- end }}
{{- end -}}

{{/* The most busy replicas a consuming stage can have: its topic's partitions. */}}
{{- define "hookline.maxReplicas" -}}
{{- $cap := int .partitions -}}
{{- $want := int .autoscaling.maxReplicas -}}
{{- if lt $cap $want }}{{ $cap }}{{ else }}{{ $want }}{{ end -}}
{{- end -}}

{{/* KEDA's Kafka scaler's name for kafka.sasl.mechanism ("none" without SASL): its own
spelling (scram_sha512, not scram_sha_512); a mechanism it does not know is refused here
rather than left to fail in KEDA's logs. */}}
{{- define "hookline.kedaSasl" -}}
{{- if hasPrefix "SASL" .Values.kafka.securityProtocol -}}
{{- $m := dict "PLAIN" "plaintext" "SCRAM-SHA-256" "scram_sha256" "SCRAM-SHA-512" "scram_sha512" "OAUTHBEARER" "oauthbearer" "GSSAPI" "gssapi" -}}
{{- $mech := upper .Values.kafka.sasl.mechanism -}}
{{- if not (hasKey $m $mech) }}{{ fail (printf "kafka.sasl.mechanism %q: KEDA's Kafka scaler knows PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER, GSSAPI" .Values.kafka.sasl.mechanism) }}{{ end -}}
{{- index $m $mech -}}
{{- else -}}none{{- end -}}
{{- end -}}
