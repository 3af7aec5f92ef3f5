"""Where a study's record goes besides kubetune's own: MLflow (and later others).

The shells hand a `StudyTrack` what they already have after each decision (the history, the
finish, the best trial, the front); it works out what is new and queues records for a sink,
which writes them from a thread of its own. Nothing here may slow or stop a study.
"""
