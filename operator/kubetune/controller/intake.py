"""Report intake: what trials report, into their Trial's status. Two sources: the collector
(posts from each trial pod's sidecar) and Prometheus (pulled while a study runs, and once
more when a trial ends).

Every replica serves the collector (the Service spreads sidecars over them), so a write is
conditional on the Trial not having changed since it was read; on a conflict the reports are
merged again into what the other writer left. A value that is not a finite number fails that
trial alone, with the reason; the operator and the study go on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from kubetune.api.study import Study
from kubetune.api.trial import TrialState
from kubetune.controller import tokens
from kubetune.controller.cache import TrialCache
from kubetune.controller.kube import API_ERRORS, Kube, Obj, describe
from kubetune.controller.leader import ConflictError
from kubetune.controller.phases import TrialLocks, TrialPhases
from kubetune.controller.pulls import PrometheusPulls
from kubetune.controller.settings import OperatorSettings
from kubetune.controller.telemetry import Telemetry
from kubetune.metrics import wire
from kubetune.metrics.lines import BadValue, parse_number
from kubetune.records.times import now_iso
from kubetune.records.trials import merge_reports, trial_phase

log = logging.getLogger("kubetune.operator")
CONFLICT_RETRIES = 5


class ReportIntake:
    def __init__(
        self,
        kube: Kube,
        settings: OperatorSettings,
        telemetry: Telemetry,
        locks: TrialLocks,
        phases: TrialPhases,
        trials: TrialCache,
        pulls: PrometheusPulls,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.kube = kube
        self.pulls = pulls
        self.trials = trials
        self.settings = settings
        self.telemetry = telemetry
        self.locks = locks
        self.phases = phases
        self.clock = clock

    # ----- the collector ------------------------------------------------------------------

    def authorize(self, namespace: str, trial: str, token: str) -> str | None:
        return tokens.read_token(self.settings.secret, namespace, trial, token)

    def record(self, namespace: str, name: str, uid: str, body: wire.Body) -> tuple[int, str]:
        """The collector's handler for an authorized post: (HTTP status, message). The API
        server's failures are answered 503 for the sidecar to post again, in a line of their
        own unless an outage already said so (anything else raised is a bug: the collector
        logs its traceback)."""
        try:
            for tries in range(CONFLICT_RETRIES):
                try:  # after a conflict, the cache was behind: read the Trial fresh
                    return self._record(namespace, name, uid, body, reread=tries > 0)
                except ConflictError:
                    self.telemetry.api_requests.labels(verb="conflict").inc()
        except API_ERRORS as error:
            if not self.kube.said(error):
                log.warning(
                    "could not record reports of %s/%s: %s", namespace, name, describe(error)
                )
            return 503, "could not record the reports now; retry"
        return 503, "the trial kept changing; retry"

    def _record(
        self, namespace: str, name: str, uid: str, body: wire.Body, reread: bool = False
    ) -> tuple[int, str]:
        with self.locks.of(namespace, name):
            trial = self.trials.get(namespace, name, fresh=reread)
            if not reread and trial is not None and trial["metadata"]["uid"] != uid:
                trial = self.trials.get(namespace, name, fresh=True)  # a new Trial, same name
            if trial is None or trial["metadata"]["uid"] != uid:
                self.telemetry.reports_refused.labels(reason="unknown-trial").inc()
                return 404, f"no trial {namespace}/{name} with this token's uid"
            current = trial.get("status") or {}
            phase = trial_phase(trial)
            if phase.finished:
                return 200, "trial already finished; ignored"
            earlier = list(current.get("earlierPods") or [])
            if body.pod is not None and body.pod in earlier:
                return 200, "from an earlier attempt's pod; ignored"
            if body.error:
                return self._fail_bad_value(trial, body.error)
            # A new pod (the Job retried the trial, backoffLimit > 0) numbers its reports from
            # 1 again, and its reports replace the failed attempt's, as `kubetune run` does.
            retried = body.pod is not None and current.get("pod") not in (None, body.pod)
            last = None if retried else current.get("lastSeq")
            fresh, seqs = self._fresh(last, body)
            if isinstance(fresh, BadValue):
                return self._fail_bad_value(trial, str(fresh))
            if not fresh and not retried:
                return 200, "nothing new"
            before = [] if retried else list(current.get("reports", []))
            update: Obj = {"reports": merge_reports(before, fresh)}
            if body.pod is not None and body.pod != current.get("pod"):
                update["pod"] = body.pod
            if retried:
                update["earlierPods"] = [*earlier, current["pod"]][-100:]
                update["lastSeq"] = None
            if seqs:
                update["lastSeq"] = max(seqs)
            if phase == TrialState.PENDING:
                update["phase"] = TrialState.RUNNING.value
                update["startTime"] = now_iso(self.clock())
            self.trials.seen(
                self.kube.patch_trial_status(
                    namespace, name, update, resource_version=trial["metadata"]["resourceVersion"]
                )
            )
            self.telemetry.reports_accepted.inc(len(fresh))
            return 200, f"recorded {len(fresh)}"

    @staticmethod
    def _fresh(last: int | None, body: wire.Body) -> tuple[list[Obj] | BadValue, list[int]]:
        """The posted reports not recorded yet (a retried post's are), values checked."""
        fresh: list[Obj] = []
        seqs: list[int] = []
        for report in body.reports:
            if last is not None and report.seq is not None and report.seq <= last:
                continue
            metrics: dict[str, float] = {}
            for metric, raw in report.metrics.items():
                value = parse_number(metric, raw)
                if isinstance(value, BadValue):
                    return value, []
                metrics[metric] = value
            fresh.append({"step": report.step, "metrics": metrics})
            if report.seq is not None:
                seqs.append(report.seq)
        return fresh, seqs

    def _fail_bad_value(self, trial: Obj, problem: str) -> tuple[int, str]:
        self.phases.fail_bad_value(trial, problem)
        return 200, f"trial failed: bad value: {problem}"

    # ----- Prometheus ---------------------------------------------------------------------

    def pull_running(self, namespace: str, study: Study, trials: list[Obj]) -> None:
        """Record what Prometheus has for each running trial that the trial does not have."""
        for trial in trials:
            if (trial.get("status") or {}).get("phase") != TrialState.RUNNING:
                continue
            with self.locks.of(namespace, trial["metadata"]["name"]):
                pulled = self.pulls.pull(trial, study)
                if isinstance(pulled, BadValue):
                    self.phases.fail_bad_value(trial, str(pulled))
