"""The operator shell (kopf): observe Trials, Jobs and metrics, ask the engine, act.

Layout: `handlers` (kopf, thin) -> `reconcile` (observe -> decide -> act) -> pure builders in
`manifests`, `status`, `tokens` -> `kube` (the only module that calls the Kubernetes API).
Nothing here is kept in memory that cannot be rebuilt from the API server.
"""
