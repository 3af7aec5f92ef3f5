{{- define "kubetune.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "kubetune.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "kubetune.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kubetune.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}{{ default (include "kubetune.fullname" .) .Values.serviceAccount.name }}{{- else -}}{{ default "default" .Values.serviceAccount.name }}{{- end -}}
{{- end -}}

{{- define "kubetune.image" -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}

{{- define "kubetune.secretName" -}}
{{ default (printf "%s-collector" (include "kubetune.fullname" .)) .Values.collector.existingSecret }}
{{- end -}}

{{/* The operator's permissions: exactly what kube.py and kopf use, nothing more. */}}
{{- define "kubetune.rules" -}}
- apiGroups: [kubetune.io]
  resources: [studies, trials]
  verbs: [get, list, watch, create, patch]
- apiGroups: [kubetune.io]
  resources: [studies/status, trials/status]
  verbs: [get, patch]
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, watch, create, delete]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
{{- if .Values.jobset.enabled }}
# Trials as JobSets (jobset.x-k8s.io), for multi-pod training.
- apiGroups: [jobset.x-k8s.io]
  resources: [jobsets]
  verbs: [get, list, watch, create, delete]
{{- end }}
{{- if .Values.trainer.enabled }}
# Trials as Kubeflow TrainJobs (trainer.kubeflow.org), run by the Trainer from a runtime.
- apiGroups: [trainer.kubeflow.org]
  resources: [trainjobs]
  verbs: [get, list, watch, create, delete]
# Its namespaced runtimes, read only: whether one has the metrics sidecar a trial's patch
# fills in (the cluster-scoped ones: in the discovery ClusterRole, whatever the namespaces).
- apiGroups: [trainer.kubeflow.org]
  resources: [trainingruntimes]
  verbs: [get]
{{- end }}
{{- range .Values.customWorkloads }}
# Trials as {{ .resource }}.{{ .group }}, judged by the conditions their Study names.
- apiGroups: [{{ .group }}]
  resources: [{{ .resource }}]
  verbs: [get, list, watch, create, delete]
{{- end }}
{{- if .Values.kueue.enabled }}
# Kueue's Workloads, read only: why a trial's workload was evicted (preempted, ...).
- apiGroups: [kueue.x-k8s.io]
  resources: [workloads]
  verbs: [get, list]
{{- end }}
{{- end -}}

{{/* The dashboard's pods carry a name of their own: the operator's selector never matches them. */}}
{{- define "kubetune.dashboard.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}-dashboard
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kubetune.dashboard.name" -}}
{{ include "kubetune.fullname" . | trunc 53 | trimSuffix "-" }}-dashboard
{{- end -}}

{{/* The dashboard's permissions: read-only, what kubetune/dashboard/sources.py reads. Pods
are listed (by the kubetune.io/trial label) to find a trial's pods; nothing is written. */}}
{{- define "kubetune.dashboard.rules" -}}
- apiGroups: [kubetune.io]
  resources: [studies, trials]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [events]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list]
- apiGroups: [""]
  resources: [pods/log]
  verbs: [get]
{{- end -}}


{{/* --workloads: Job, and each kind enabled here (RESOURCE.VERSION.GROUP for custom ones). */}}
{{- define "kubetune.workloads" -}}
Job{{ if .Values.jobset.enabled }},JobSet{{ end }}{{ if .Values.trainer.enabled }},TrainJob{{ end }}
{{- range .Values.customWorkloads }},{{ .resource }}.{{ .version }}.{{ .group }}{{ end }}
{{- end -}}
