"""The operator shell (kopf): observe Studies, Trials, workloads and reports, ask the engine, act.

The rooms, each a small module: `studies` (the study loop: observe -> decide -> act),
`workloads/` (a workload's events to its trial's phase, one module per kind), `intake`
(reports from the collector; `pulls`: from Prometheus), with `phases` the one writer of a
Trial's phase; `desk`, built first, is the study side the other rooms ask (a study's spec, a
pass), so every room gets what it calls when it is built.
`handlers` (kopf, thin) hand events to them; `operator` wires them with one frozen
`settings` object; pure builders in `manifests`, `outcomes`, `planning`, `tokens` (and the
Study and Trial records and status models in `kubetune.records`); `kube` is the only module
that calls the Kubernetes API. What a room keeps in memory is an optimisation the API server
can rebuild, and it is bounded.
"""
