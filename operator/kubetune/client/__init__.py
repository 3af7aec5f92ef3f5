"""`kubetune.Client`: Studies on a cluster from Python (create, wait, watch, results, logs)."""
