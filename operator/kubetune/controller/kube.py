"""The only module that calls the Kubernetes API: thin verbs over the official client.

Every call is reported to `on_call` (the operator's `kubetune_api_requests_total`), which the
operator benchmark reads as API requests per trial. Creating a Job that exists is not an error
(a pass that died after creating it comes back to it); creating a Trial whose name is taken
returns None: trial names are never reused, so the name is someone else's.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from kubetune.api.study import GROUP, VERSION
from kubetune.controller.faults import API_RETRIES, API_SERVER, Faults
from kubetune.controller.leader import ConflictError
from kubetune.controller.manifests import STUDY_LABEL
from kubetune.records.study_status import study_status_patch
from kubetune.records.trials import trial_status_patch

Obj = dict[str, Any]
#: What a call raises when the cluster is unreachable or refuses: the CLI turns it into a message.
API_ERRORS: tuple[type[BaseException], ...] = (ApiException, HTTPError, OSError)


#: Trials per page when a study's whole Trials are listed.
LIST_PAGE = 500
#: Asks a LIST for its items' metadata only.
METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"


def _revision(raw: Any) -> int | None:
    """A resourceVersion as etcd's revision (None if the server gives something else)."""
    text = str(raw or "")
    return int(text) if text.isdigit() else None


class InvalidObjectError(Exception):
    """The API server refused an object as invalid (400, 422): sending it again cannot help."""


def describe(error: BaseException) -> str:
    """The API server's own message for a failed call, without headers and bodies."""
    if isinstance(error, ApiException):
        try:
            return str(json.loads(error.body or "{}").get("message") or error.reason)
        except ValueError:
            return str(error.reason)
    return str(error)


def context_namespace(kubeconfig: str | None = None, context: str | None = None) -> str:
    """The kubeconfig context's namespace (the current one unless named), as kubectl would
    pick it; in a pod with no kubeconfig given, the pod's own."""
    mounted = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
    if kubeconfig is None and context is None and mounted.exists():
        return mounted.read_text().strip()
    try:
        contexts, current = config.list_kube_config_contexts(config_file=kubeconfig)  # type: ignore[no-untyped-call]
    except (config.ConfigException, OSError) as error:
        raise LookupError(f"no usable kubeconfig ({error}); set KUBECONFIG") from None
    if context is not None:
        named = [c for c in contexts if c.get("name") == context]
        if not named:
            raise LookupError(f"no context {context!r} in the kubeconfig")
        current = named[0]
    return str((current.get("context") or {}).get("namespace") or "default")


def own_namespace() -> str:
    """Where the operator keeps its Lease and key: $POD_NAMESPACE, the pod's own namespace when
    in a cluster, else the kubeconfig context's."""
    if os.environ.get("POD_NAMESPACE"):
        return os.environ["POD_NAMESPACE"]
    mounted = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
    if mounted.exists():
        return mounted.read_text().strip()
    return context_namespace()


#: (connect, read) seconds for every call: a call that hangs (a connection lost without a
#: reset) must fail and be retried, not hold one of the study loop's threads for good.
API_TIMEOUT = (5.0, 30.0)


def is_outage(error: BaseException) -> bool:
    """The API server could not answer (unreachable, timed out, overloaded, 5xx): what
    retrying cures. A 4xx is an answer; anything else raised is a bug."""
    if isinstance(error, ApiException):
        return error.status in (0, None, 429) or int(error.status) >= 500
    return isinstance(error, HTTPError | OSError)


def brief(error: BaseException) -> str:
    """One short phrase for an outage's cause (urllib3's messages run to 300 characters)."""
    text = str(error).lower()
    for phrase in ("connection refused", "timed out", "name or service not known", "reset"):
        if phrase in text:
            return phrase
    if isinstance(error, ApiException):
        return f"HTTP {error.status} {error.reason}"
    return f"{type(error).__name__}: {str(error)[:120]}"


class ApiHealth:
    """Tells `Faults` how each call to the API server went: an outage starts with the first
    call that could not be answered and ends with the first that was."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults

    def answered(self) -> None:
        self.faults.worked(API_SERVER)

    def failed(self, error: BaseException) -> None:
        if is_outage(error):
            self.faults.failed(API_SERVER, brief(error), API_RETRIES)
        else:
            self.answered()  # a refusal is an answer: the server is there


class _TimedApiClient(client.ApiClient):
    """The official client with a default timeout on every request, telling `health` how
    each call went."""

    health: ApiHealth | None = None

    def call_api(  # type: ignore[no-untyped-def]
        self, method, url, header_params=None, body=None, post_params=None, _request_timeout=None
    ):
        try:
            answer = super().call_api(
                method, url, header_params, body, post_params, _request_timeout or API_TIMEOUT
            )
        except API_ERRORS as error:
            if self.health is not None:
                self.health.failed(error)
            raise
        if self.health is not None:
            self.health.answered()
        return answer


class Kube:
    #: What a call raises when the cluster is unreachable or refuses, and its message: for
    #: readers handed a Kube (the dashboard) that should not import this module.
    errors = API_ERRORS
    describe = staticmethod(describe)

    def __init__(
        self,
        on_call: Callable[[str], None] | None = None,
        faults: Faults | None = None,
        kubeconfig: str | None = None,
        context: str | None = None,
    ) -> None:
        """The pod's own identity in a cluster, else the kubeconfig's current context; a
        kubeconfig file or context named here is used as given (`kubetune.Client`)."""
        configuration = client.Configuration()
        try:
            if kubeconfig is None and context is None:
                try:
                    config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
                except config.ConfigException:
                    config.load_kube_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            else:
                config.load_kube_config(  # type: ignore[no-untyped-call]
                    config_file=kubeconfig, context=context, client_configuration=configuration
                )
        except (config.ConfigException, OSError) as error:
            raise LookupError(f"no usable kubeconfig ({error}); set KUBECONFIG") from None
        # One pool for the collector's workers, the study loop's and kopf's handler threads:
        # the default (5 per CPU) made the rest open and drop a TLS connection per call.
        configuration.connection_pool_maxsize = 64
        self.api = _TimedApiClient(configuration)
        if faults is not None:
            self.api.health = ApiHealth(faults)
        self.custom = client.CustomObjectsApi(self.api)
        self.batch = client.BatchV1Api(self.api)
        self.core = client.CoreV1Api(self.api)
        self.coordination = client.CoordinationV1Api(self.api)
        self._on_call = on_call
        #: Where failures are told once (the operator's); None: the callers say them.
        self.faults = faults

    def said(self, error: BaseException) -> bool:
        """An outage already reported (`Faults`): the caller retries without a word more."""
        return self.faults is not None and is_outage(error) and self.faults.failing(API_SERVER)

    def _count(self, verb: str) -> None:
        if self._on_call is not None:
            self._on_call(verb)

    # ----- studies and trials ------------------------------------------------------------

    def _fetch(self, plural: str, namespace: str, name: str) -> Obj | None:
        try:
            found = self.custom.get_namespaced_custom_object(
                GROUP, VERSION, namespace, plural, name
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return cast(Obj, found)

    def fetch_study(self, namespace: str, name: str) -> Obj | None:
        self._count("get_study")
        return self._fetch("studies", namespace, name)

    def list_trials(self, namespace: str, study: str) -> list[Obj]:
        self._count("list_trials")
        listing = self.custom.list_namespaced_custom_object(
            GROUP, VERSION, namespace, "trials", label_selector=f"{STUDY_LABEL}={study}"
        )
        items: list[Obj] = cast(Obj, listing)["items"]
        return items

    def list_trial_pages(
        self, namespace: str, study: str, page: int = LIST_PAGE
    ) -> Iterator[tuple[list[Obj], int | None]]:
        """A study's Trials, a page at a time, each with the list's resourceVersion (what the
        whole list is as of), for a cache to tell objects the list missed from objects written
        after it. Pages, not one list: at 10,000 Trials one list held 38 MB of JSON and a few
        hundred MiB of objects at once, past the chart's memory limit, when a restarted
        operator first read a big study."""
        token: str | None = None
        version: int | None = None
        while True:
            self._count("list_trials")
            options: dict[str, Any] = {"label_selector": f"{STUDY_LABEL}={study}", "limit": page}
            if token:
                options["_continue"] = token
            listing = cast(
                Obj,
                self.custom.list_namespaced_custom_object(
                    GROUP, VERSION, namespace, "trials", **options
                ),
            )
            meta = listing.get("metadata") or {}
            if version is None:  # every page is of the first one's snapshot
                version = _revision(meta.get("resourceVersion"))
            yield list(listing["items"]), version
            token = meta.get("continue")
            if not token:
                return

    def list_trial_versions(
        self, namespace: str, study: str
    ) -> tuple[dict[str, tuple[str, int | None]], int | None]:
        """Name -> (uid, resourceVersion) of a study's Trials, and the list's resourceVersion:
        metadata only (a PartialObjectMetadataList), a fraction of the whole objects' bytes,
        for a cache to find what it missed."""
        self._count("list_trials")
        listing = cast(
            Obj,
            self.custom.list_namespaced_custom_object(
                GROUP,
                VERSION,
                namespace,
                "trials",
                label_selector=f"{STUDY_LABEL}={study}",
                _headers={"Accept": METADATA_ONLY},
            ),
        )
        found = {
            item["metadata"]["name"]: (
                str(item["metadata"].get("uid")),
                _revision(item["metadata"].get("resourceVersion")),
            )
            for item in listing.get("items") or []
        }
        return found, _revision((listing.get("metadata") or {}).get("resourceVersion"))

    def fetch_trial(self, namespace: str, name: str) -> Obj | None:
        self._count("get_trial")
        return self._fetch("trials", namespace, name)

    def create_trial(self, trial: Obj) -> Obj | None:
        """The created Trial, or None when its name is taken."""
        self._count("create_trial")
        namespace = trial["metadata"]["namespace"]
        try:
            created: Obj = cast(
                Obj,
                self.custom.create_namespaced_custom_object(
                    GROUP, VERSION, namespace, "trials", trial
                ),
            )
        except ApiException as error:
            if error.status == 409:
                return None
            raise
        return created

    def patch_trial_status(
        self, namespace: str, name: str, status: Obj, resource_version: str | None = None
    ) -> Obj:
        """Merge-patch a Trial's status (checked against its model); with `resource_version`,
        only if nobody wrote since (ConflictError otherwise): several replicas' collectors may
        write the same Trial."""
        self._count("patch_trial_status")
        body: Obj = {"status": trial_status_patch(status)}
        if resource_version is not None:
            body["metadata"] = {"resourceVersion": resource_version}
        try:
            patched = self.custom.patch_namespaced_custom_object_status(
                GROUP, VERSION, namespace, "trials", name, body
            )
        except ApiException as error:
            if error.status == 409:
                raise ConflictError(describe(error)) from None
            raise
        return cast(Obj, patched)

    def patch_study_status(self, namespace: str, name: str, status: Obj) -> Obj:
        """Merge-patch a Study's status (checked against its model); the Study as written."""
        self._count("patch_study_status")
        patched = self.custom.patch_namespaced_custom_object_status(
            GROUP, VERSION, namespace, "studies", name, {"status": study_status_patch(status)}
        )
        return cast(Obj, patched)

    # ----- jobs ----------------------------------------------------------------------------

    def create_job(self, job: Obj) -> None:
        """Create a trial's Job; one that exists is left as it is. InvalidObjectError when the API
        server refuses it (the user's template, say), with its message."""
        self._count("create_job")
        try:
            self.batch.create_namespaced_job(job["metadata"]["namespace"], cast(Any, job))
        except ApiException as error:
            if error.status in (400, 422):
                raise InvalidObjectError(describe(error)) from None
            if error.status != 409:
                raise

    def list_jobs(self, namespace: str, selector: str) -> list[Obj]:
        self._count("list_jobs")
        jobs = self.batch.list_namespaced_job(namespace, label_selector=selector)
        return [cast(Obj, self.api.sanitize_for_serialization(j)) for j in jobs.items]  # type: ignore[no-untyped-call]

    def fetch_job(self, namespace: str, name: str) -> Obj | None:
        self._count("get_job")
        try:
            job = self.batch.read_namespaced_job(name, namespace)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        result: Obj = self.api.sanitize_for_serialization(job)  # type: ignore[no-untyped-call]
        return result

    def delete_job(self, namespace: str, name: str) -> None:
        """Delete a trial's Job and its pods (Background propagation; the default orphans pods)."""
        self._count("delete_job")
        try:
            self.batch.delete_namespaced_job(name, namespace, propagation_policy="Background")
        except ApiException as error:
            if error.status != 404:
                raise

    def kueue_eviction(self, namespace: str, workload_uid: str) -> str | None:
        """Why Kueue evicted the Kueue Workload of a trial's workload (by its uid), or None
        when it was not evicted (not admitted yet). Kueue's own condition messages say it
        best ("Preempted to accommodate a workload ... in the ClusterQueue")."""
        self._count("list_kueue_workloads")
        try:
            listing = self.custom.list_namespaced_custom_object(
                "kueue.x-k8s.io",
                "v1beta2",
                namespace,
                "workloads",
                label_selector=f"kueue.x-k8s.io/job-uid={workload_uid}",
            )
        except ApiException as error:
            if error.status in (403, 404):
                return None  # Kueue not installed, or not readable with this role
            raise
        for workload in cast(Obj, listing)["items"]:
            current = workload.get("status") or {}
            for condition in current.get("conditions") or []:
                if condition.get("type") == "Evicted" and condition.get("status") == "True":
                    reason = condition.get("reason") or "Evicted"
                    message = condition.get("message") or ""
                    return f"{reason}: {message}" if message else str(reason)
            # Admitted again already (an event read late): Kueue's tally of evictions remains.
            evictions = (current.get("schedulingStats") or {}).get("evictions") or []
            if evictions:
                last = evictions[-1]
                cause = f" ({last['underlyingCause']})" if last.get("underlyingCause") else ""
                return f"{last.get('reason') or 'Evicted'}{cause}: evicted by Kueue"
        return None

    # ----- workloads of any kind: Job through the batch API, the rest as custom objects -----

    def create_workload(self, workload: Obj, plural: str) -> None:
        """Create a trial's workload (a Job, a JobSet, ...); one that exists is left as it is.
        InvalidObjectError when the API server (or a webhook) refuses it, with its message."""
        if workload["apiVersion"] == "batch/v1" and workload["kind"] == "Job":
            self.create_job(workload)
            return
        group, version = _group_version(workload["apiVersion"])
        kind, namespace = workload["kind"], workload["metadata"]["namespace"]
        self._count(f"create_{kind.lower()}")
        try:
            self.custom.create_namespaced_custom_object(group, version, namespace, plural, workload)
        except ApiException as error:
            if error.status == 404:  # no such resource: the kind's CRD is not installed
                raise InvalidObjectError(
                    f"{workload['apiVersion']} {workload['kind']} ({plural}) is not served by "
                    "this cluster (is its controller installed?)"
                ) from None
            if error.status in (400, 422):
                raise InvalidObjectError(describe(error)) from None
            if error.status != 409:
                raise

    def delete_workload(self, namespace: str, name: str, api_version: str, plural: str) -> None:
        """Delete a trial's workload and its pods (Background propagation)."""
        if (api_version, plural) == ("batch/v1", "jobs"):
            self.delete_job(namespace, name)
            return
        group, version = _group_version(api_version)
        self._count(f"delete_{plural[:-1]}")
        try:
            self.custom.delete_namespaced_custom_object(
                group, version, namespace, plural, name, propagation_policy="Background"
            )
        except ApiException as error:
            if error.status != 404:
                raise

    def fetch_object(
        self, api_version: str, plural: str, name: str, namespace: str | None = None
    ) -> Obj | None:
        """Any object, cluster-scoped when no namespace is given; None when absent (or when
        this role may not read it: the caller says what is missing either way)."""
        group, version = _group_version(api_version)
        self._count(f"get_{plural[:-1]}")
        try:
            if namespace is None:
                found = self.custom.get_cluster_custom_object(group, version, plural, name)
            else:
                found = self.custom.get_namespaced_custom_object(
                    group, version, namespace, plural, name
                )
        except ApiException as error:
            if error.status in (403, 404):
                return None
            raise
        return cast(Obj, found)

    def list_workloads(
        self, namespace: str, selector: str, api_version: str, plural: str
    ) -> list[Obj]:
        if (api_version, plural) == ("batch/v1", "jobs"):
            return self.list_jobs(namespace, selector)
        group, version = _group_version(api_version)
        self._count(f"list_{plural}")
        listing = self.custom.list_namespaced_custom_object(
            group, version, namespace, plural, label_selector=selector
        )
        items: list[Obj] = cast(Obj, listing)["items"]
        return items

    def list_pods(self, namespace: str, selector: str) -> list[Obj]:
        self._count("list_pods")
        pods = self.core.list_namespaced_pod(namespace, label_selector=selector)
        return [cast(Obj, self.api.sanitize_for_serialization(p)) for p in pods.items]  # type: ignore[no-untyped-call]

    def fetch_logs(
        self,
        namespace: str,
        pod: str,
        container: str,
        tail: int | None = None,
        limit_bytes: int | None = None,
    ) -> str:
        self._count("get_logs")
        return str(
            self.core.read_namespaced_pod_log(
                pod, namespace, container=container, tail_lines=tail, limit_bytes=limit_bytes
            )
        )

    def list_studies(self, namespace: str | None) -> list[Obj]:
        """Studies in a namespace, or in every namespace (None) for an identity that may."""
        self._count("list_studies")
        if namespace is None:
            listing = self.custom.list_cluster_custom_object(GROUP, VERSION, "studies")
        else:
            listing = self.custom.list_namespaced_custom_object(
                GROUP, VERSION, namespace, "studies"
            )
        items: list[Obj] = cast(Obj, listing)["items"]
        return items

    def create_study(self, namespace: str, study: Obj) -> Obj:
        self._count("create_study")
        created = self.custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, "studies", study
        )
        return cast(Obj, created)

    def delete_study(self, namespace: str, name: str) -> bool:
        """Deletes the Study (its Trials, workloads and pods go with it, by owner); False when
        there was none."""
        self._count("delete_study")
        try:
            self.custom.delete_namespaced_custom_object(
                GROUP, VERSION, namespace, "studies", name, propagation_policy="Background"
            )
        except ApiException as error:
            if error.status == 404:
                return False
            raise
        return True

    def watch_trials(
        self, namespace: str, study: str, resource_version: str | None, seconds: int
    ) -> Iterator[tuple[str, Obj]]:
        """The study's Trial events (ADDED, MODIFIED, DELETED) from `resource_version` on, for
        at most `seconds`."""
        from kubernetes import watch  # noqa: PLC0415 - only readers that follow a study use it

        self._count("watch_trials")
        stream = watch.Watch().stream(  # type: ignore[no-untyped-call]
            self.custom.list_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            "trials",
            label_selector=f"{STUDY_LABEL}={study}",
            resource_version=resource_version,
            timeout_seconds=seconds,
            _request_timeout=(API_TIMEOUT[0], seconds + 10),
        )
        for event in stream:
            yield str(event["type"]), cast(Obj, event["object"])

    def create_config_map(self, namespace: str, config_map: Obj) -> None:
        self._count("create_config_map")
        self.core.create_namespaced_config_map(namespace, config_map)  # type: ignore[arg-type]

    def delete_config_map(self, namespace: str, name: str) -> None:
        self._count("delete_config_map")
        with contextlib.suppress(ApiException):
            self.core.delete_namespaced_config_map(name, namespace)

    def adopt_config_map(self, namespace: str, name: str, owner: Obj) -> None:
        """Make the Study `owner` the ConfigMap's owner, so that it goes with the Study."""
        self._count("patch_config_map")
        meta = owner["metadata"]
        reference = {
            "apiVersion": owner["apiVersion"],
            "kind": owner["kind"],
            "name": meta["name"],
            "uid": meta["uid"],
        }
        self.core.patch_namespaced_config_map(
            name, namespace, {"metadata": {"ownerReferences": [reference]}}
        )

    def list_events(self, namespace: str, involved: str) -> list[Obj]:
        """Events about the object named `involved` (a Trial, its Job or a pod)."""
        self._count("list_events")
        events = self.core.list_namespaced_event(
            namespace, field_selector=f"involvedObject.name={involved}"
        )
        return [cast(Obj, self.api.sanitize_for_serialization(e)) for e in events.items]  # type: ignore[no-untyped-call]

    def fetch_config_map_data(self, namespace: str, name: str) -> dict[str, str] | None:
        """A ConfigMap's data (`kubetune convert --cluster` reads Katib trial templates from
        one); None when it is absent or this identity may not read it."""
        self._count("get_configmap")
        try:
            found = self.core.read_namespaced_config_map(name, namespace)
        except ApiException as error:
            if error.status in (403, 404):
                return None
            raise
        return dict(found.data or {})

    # ----- the collector's key --------------------------------------------------------------

    def read_or_create_key(self, namespace: str, name: str) -> bytes:
        """The HMAC key in Secret `name` (key `secret`), created with a random key if missing.

        Replicas racing to create it agree: the loser of the create reads the winner's."""
        self._count("get_secret")
        try:
            found = self.core.read_namespaced_secret(name, namespace)
        except ApiException as error:
            if error.status != 404:
                raise
        else:
            return base64.b64decode((found.data or {})["secret"])
        key = secrets.token_hex(32)
        body = {
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": {"app.kubernetes.io/managed-by": "kubetune-operator"},
            },
            "type": "Opaque",
            "stringData": {"secret": key},
        }
        self._count("create_secret")
        try:
            self.core.create_namespaced_secret(namespace, cast(Any, body))
        except ApiException as error:
            if error.status != 409:
                raise
            return self.read_or_create_key(namespace, name)
        return key.encode()

    # ----- leases (leader election) --------------------------------------------------------

    def read_lease(self, namespace: str, name: str) -> Obj | None:
        self._count("get_lease")
        try:
            lease = self.coordination.read_namespaced_lease(name, namespace)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return cast(Obj, self.api.sanitize_for_serialization(lease))  # type: ignore[no-untyped-call]

    def create_lease(self, namespace: str, name: str, spec: Obj) -> Obj:
        self._count("create_lease")
        body = {"metadata": {"name": name, "namespace": namespace}, "spec": spec}
        try:
            lease = self.coordination.create_namespaced_lease(namespace, cast(Any, body))
        except ApiException as error:
            if error.status == 409:
                raise ConflictError(describe(error)) from None
            raise
        return cast(Obj, self.api.sanitize_for_serialization(lease))  # type: ignore[no-untyped-call]

    def replace_lease(self, namespace: str, name: str, spec: Obj, resource_version: str) -> Obj:
        """A write that fails with ConflictError unless the Lease is still at `resource_version`."""
        self._count("replace_lease")
        body = {
            "metadata": {"name": name, "namespace": namespace, "resourceVersion": resource_version},
            "spec": spec,
        }
        try:
            lease = self.coordination.replace_namespaced_lease(name, namespace, cast(Any, body))
        except ApiException as error:
            if error.status == 409:
                raise ConflictError(describe(error)) from None
            raise
        return cast(Obj, self.api.sanitize_for_serialization(lease))  # type: ignore[no-untyped-call]

    # ----- events --------------------------------------------------------------------------

    def emit_event(self, obj: Obj, reason: str, message: str, kind: str = "Normal") -> None:
        self._count("create_event")
        meta = obj["metadata"]
        now = dt.datetime.now(dt.UTC)
        event = client.CoreV1Event(
            metadata=client.V1ObjectMeta(
                generate_name=f"{meta['name']}.", namespace=meta["namespace"]
            ),
            involved_object=client.V1ObjectReference(
                api_version=obj["apiVersion"],
                kind=obj["kind"],
                name=meta["name"],
                namespace=meta["namespace"],
                uid=meta.get("uid"),
            ),
            reason=reason,
            message=message[:1000],
            type=kind,
            first_timestamp=now,
            last_timestamp=now,
            count=1,
            source=client.V1EventSource(component="kubetune-operator"),
            reporting_component="kubetune.io/operator",
            reporting_instance="kubetune-operator",
        )
        with contextlib.suppress(ApiException):  # best effort: never fail a pass over one
            self.core.create_namespaced_event(meta["namespace"], event)


def _group_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version
