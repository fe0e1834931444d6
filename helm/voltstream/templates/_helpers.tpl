{{/* Names */}}
{{- define "voltstream.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "voltstream.fullname" -}}
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

{{/* <fullname>-<component>, at most 52 characters so StatefulSet pod and PVC names stay valid */}}
{{- define "voltstream.componentName" -}}
{{- printf "%s-%s" (include "voltstream.fullname" .root | trunc 40 | trimSuffix "-") .component | trunc 52 | trimSuffix "-" -}}
{{- end -}}

{{- define "voltstream.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "voltstream.labels" -}}
helm.sh/chart: {{ include "voltstream.chart" . }}
app.kubernetes.io/name: {{ include "voltstream.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: voltstream
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* labels of one component: (dict "root" $ "component" "gateway") */}}
{{- define "voltstream.componentLabels" -}}
{{ include "voltstream.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "voltstream.selectorLabels" -}}
app.kubernetes.io/name: {{ include "voltstream.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "voltstream.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "voltstream.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "voltstream.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Objects the services and the hook Jobs share */}}
{{- define "voltstream.configName" -}}{{ include "voltstream.fullname" . }}-config{{- end -}}
{{- define "voltstream.hookConfigName" -}}{{ include "voltstream.fullname" . }}-hook-config{{- end -}}
{{- define "voltstream.secretName" -}}
{{- if .Values.secrets.existingSecret -}}
{{- .Values.secrets.existingSecret -}}
{{- else -}}
{{- include "voltstream.fullname" . }}-secret
{{- end -}}
{{- end -}}
{{- define "voltstream.hookSecretName" -}}
{{- if .Values.secrets.existingSecret -}}
{{- .Values.secrets.existingSecret -}}
{{- else -}}
{{- include "voltstream.fullname" . }}-hook-secret
{{- end -}}
{{- end -}}
{{- define "voltstream.hookServiceAccountName" -}}{{ include "voltstream.fullname" . }}-hooks{{- end -}}

{{- define "voltstream.kafkaTls" -}}
{{- if contains "SSL" .Values.kafka.securityProtocol }}true{{ end -}}
{{- end -}}

{{- define "voltstream.ocpiReplicasMax" -}}
{{- if .Values.ocpi.autoscaling.enabled -}}{{ .Values.ocpi.autoscaling.maxReplicas }}{{- else -}}{{ .Values.ocpi.replicaCount }}{{- end -}}
{{- end -}}

{{/* Non-secret settings of every service and job (ConfigMap data) */}}
{{- define "voltstream.configData" -}}
{{- range $svc := list "GATEWAY" "SESSIONS" "BILLING" "OCPI" "ANALYTICS" }}
VOLTSTREAM_{{ $svc }}_LOG_LEVEL: {{ $.Values.logLevel | quote }}
{{- end }}
VOLTSTREAM_KAFKA_BOOTSTRAP: {{ .Values.kafka.bootstrap | quote }}
VOLTSTREAM_KAFKA_TOPIC_PREFIX: {{ .Values.kafka.topicPrefix | quote }}
VOLTSTREAM_KAFKA_STATION_PARTITIONS: {{ .Values.kafka.stationPartitions | quote }}
VOLTSTREAM_KAFKA_OTHER_PARTITIONS: {{ .Values.kafka.otherPartitions | quote }}
VOLTSTREAM_KAFKA_REPLICATION_FACTOR: {{ .Values.kafka.replicationFactor | quote }}
VOLTSTREAM_KAFKA_SECURITY_PROTOCOL: {{ .Values.kafka.securityProtocol | quote }}
{{- if hasPrefix "SASL" .Values.kafka.securityProtocol }}
VOLTSTREAM_KAFKA_SASL_MECHANISM: {{ .Values.kafka.sasl.mechanism | quote }}
VOLTSTREAM_KAFKA_SASL_USERNAME: {{ .Values.kafka.sasl.username | quote }}
{{- end }}
{{- if include "voltstream.kafkaTls" . }}
{{- if .Values.kafka.tls.caSecret.name }}
VOLTSTREAM_KAFKA_SSL_CAFILE: "/etc/voltstream/kafka-tls/ca.crt"
{{- end }}
{{- if .Values.kafka.tls.clientSecret.name }}
VOLTSTREAM_KAFKA_SSL_CERTFILE: "/etc/voltstream/kafka-tls/client.crt"
VOLTSTREAM_KAFKA_SSL_KEYFILE: "/etc/voltstream/kafka-tls/client.key"
{{- end }}
{{- end }}
VOLTSTREAM_ANALYTICS_CLICKHOUSE_URL: {{ .Values.clickhouse.url | quote }}
VOLTSTREAM_ANALYTICS_DATABASE: {{ .Values.clickhouse.database | quote }}
VOLTSTREAM_ANALYTICS_CLICKHOUSE_USERNAME: {{ .Values.clickhouse.username | quote }}
{{- range $k, $v := .Values.extraEnv }}
{{ $k }}: {{ $v | toString | quote }}
{{- end }}
{{- end -}}

{{/* Secret settings (chart-managed Secret data, base64) */}}
{{- define "voltstream.secretData" -}}
{{- if hasPrefix "SASL" .Values.kafka.securityProtocol }}
VOLTSTREAM_KAFKA_SASL_PASSWORD: {{ .Values.kafka.sasl.password | b64enc | quote }}
{{- end }}
VOLTSTREAM_ANALYTICS_CLICKHOUSE_PASSWORD: {{ .Values.clickhouse.password | b64enc | quote }}
{{- if .Values.postgresql.enabled }}
VOLTSTREAM_OCPI_DATABASE_URL: {{ .Values.postgresql.url | b64enc | quote }}
{{- end }}
{{- range $k, $v := .Values.secrets.extraEnv }}
{{ $k }}: {{ $v | toString | b64enc | quote }}
{{- end }}
{{- end -}}

{{/* Kafka TLS files (projected from the operator's Secrets) */}}
{{- define "voltstream.kafkaTlsVolume" -}}
{{- if and (include "voltstream.kafkaTls" .) (or .Values.kafka.tls.caSecret.name .Values.kafka.tls.clientSecret.name) }}
- name: kafka-tls
  projected:
    defaultMode: 0440
    sources:
      {{- with .Values.kafka.tls.caSecret }}
      {{- if .name }}
      - secret:
          name: {{ .name }}
          items:
            - {key: {{ .key | quote }}, path: ca.crt}
      {{- end }}
      {{- end }}
      {{- with .Values.kafka.tls.clientSecret }}
      {{- if .name }}
      - secret:
          name: {{ .name }}
          items:
            - {key: {{ .certKey | quote }}, path: client.crt}
            - {key: {{ .keyKey | quote }}, path: client.key}
      {{- end }}
      {{- end }}
{{- end }}
{{- end -}}

{{- define "voltstream.kafkaTlsMount" -}}
{{- if and (include "voltstream.kafkaTls" .) (or .Values.kafka.tls.caSecret.name .Values.kafka.tls.clientSecret.name) }}
- name: kafka-tls
  mountPath: /etc/voltstream/kafka-tls
  readOnly: true
{{- end }}
{{- end -}}

{{/* env and envFrom of a service container: (dict "root" $ "component" "gateway" "values" .Values.gateway) */}}
{{- define "voltstream.envFrom" -}}
- configMapRef:
    name: {{ include "voltstream.configName" .root }}
- secretRef:
    name: {{ include "voltstream.secretName" .root }}
{{- end -}}

{{- define "voltstream.extraEnv" -}}
{{- range $k, $v := .values.extraEnv }}
- name: {{ $k }}
  value: {{ $v | toString | quote }}
{{- end }}
{{- end -}}

{{/* pod-level fields shared by every service: (dict "root" $ "values" .Values.gateway) */}}
{{- define "voltstream.podCommon" -}}
serviceAccountName: {{ include "voltstream.serviceAccountName" .root }}
automountServiceAccountToken: false
enableServiceLinks: false
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- with (default .root.Values.priorityClassName .values.priorityClassName) }}
priorityClassName: {{ . }}
{{- end }}
{{- with (default .root.Values.nodeSelector .values.nodeSelector) }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (default .root.Values.tolerations .values.tolerations) }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (default .root.Values.affinity .values.affinity) }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* spread replicas over nodes and zones unless the operator gives their own constraints */}}
{{- define "voltstream.defaultSpread" -}}
{{- if not .values.topologySpreadConstraints }}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "voltstream.selectorLabels" . | nindent 8 }}
  - maxSkew: 1
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "voltstream.selectorLabels" . | nindent 8 }}
{{- end }}
{{- end -}}

{{/* checksum of what the pods read at start, so a settings change rolls them */}}
{{- define "voltstream.configChecksum" -}}
checksum/config: {{ include "voltstream.configData" . | sha256sum }}
{{- if not .Values.secrets.existingSecret }}
checksum/secret: {{ include "voltstream.secretData" . | sha256sum }}
{{- end }}
{{- end -}}

{{- define "voltstream.probes" -}}
startupProbe:
  httpGet: {path: /healthz, port: {{ .port }}}
  periodSeconds: 5
  failureThreshold: 60
livenessProbe:
  httpGet: {path: /healthz, port: {{ .port }}}
  periodSeconds: 10
  timeoutSeconds: 5
  failureThreshold: 6
readinessProbe:
  httpGet: {path: /readyz, port: {{ .port }}}
  periodSeconds: 5
  timeoutSeconds: 5
  failureThreshold: 3
{{- end -}}

{{/* Jobs: which run, and on which hook events */}}
{{- define "voltstream.topicsJob" -}}
{{- if eq .Values.kafka.topics.mode "job" }}true{{ end -}}
{{- end -}}
{{- define "voltstream.migrateJob" -}}
{{- if and .Values.analytics.enabled .Values.clickhouse.migrations.enabled }}true{{ end -}}
{{- end -}}
{{/* with Strimzi the topics are release resources, created after the pre-* hooks: the catalog goes post-* */}}
{{- define "voltstream.catalogHookEvents" -}}
{{- if eq .Values.kafka.topics.mode "strimzi" }}post-install,post-upgrade{{ else }}pre-install,pre-upgrade{{ end -}}
{{- end -}}
{{- define "voltstream.prereqHookEvents" -}}
{{- $events := list -}}
{{- if or (include "voltstream.topicsJob" .) (include "voltstream.migrateJob" .) (and .Values.catalog.enabled (ne .Values.kafka.topics.mode "strimzi")) -}}
{{- $events = concat $events (list "pre-install" "pre-upgrade") -}}
{{- end -}}
{{- if and .Values.catalog.enabled (eq .Values.kafka.topics.mode "strimzi") -}}
{{- $events = concat $events (list "post-install" "post-upgrade") -}}
{{- end -}}
{{- join "," $events -}}
{{- end -}}

{{/* one hook Job: (dict "root" $ "name" "topics" "args" (list ...) "events" "pre-install,pre-upgrade" "weight" "0") */}}
{{- define "voltstream.job" -}}
{{- $root := .root -}}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ include "voltstream.fullname" $root | trunc 48 | trimSuffix "-" }}-{{ .name }}
  labels:
    {{- include "voltstream.componentLabels" (dict "root" $root "component" (printf "job-%s" .name)) | nindent 4 }}
  annotations:
    helm.sh/hook: {{ .events }}
    helm.sh/hook-weight: {{ .weight | quote }}
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  backoffLimit: {{ $root.Values.jobs.backoffLimit }}
  activeDeadlineSeconds: {{ $root.Values.jobs.activeDeadlineSeconds }}
  template:
    metadata:
      labels:
        {{- include "voltstream.selectorLabels" (dict "root" $root "component" (printf "job-%s" .name)) | nindent 8 }}
    spec:
      restartPolicy: Never
      serviceAccountName: {{ include "voltstream.hookServiceAccountName" $root }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      {{- with $root.Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ .name }}
          image: {{ include "voltstream.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args:
            {{- toYaml .args | nindent 12 }}
          envFrom:
            - configMapRef:
                name: {{ include "voltstream.hookConfigName" $root }}
            - secretRef:
                name: {{ include "voltstream.hookSecretName" $root }}
          securityContext:
            {{- toYaml $root.Values.containerSecurityContext | nindent 12 }}
          resources:
            {{- toYaml $root.Values.jobs.resources | nindent 12 }}
          volumeMounts:
            - {name: tmp, mountPath: /tmp}
            {{- include "voltstream.kafkaTlsMount" $root | nindent 12 }}
            {{- with .mounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir: {sizeLimit: 64Mi}
        {{- include "voltstream.kafkaTlsVolume" $root | nindent 8 }}
        {{- with .volumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
{{- end -}}
