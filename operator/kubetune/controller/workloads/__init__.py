"""Workload events to trial phase: one module per kind of workload a trial runs as.

A workload room reads its kind's objects (a Job and its pods, ...) as a trial phase and hands
it to `TrialPhases`; it also notices a workload that vanished before its trial ended.
"""
