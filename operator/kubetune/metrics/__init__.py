"""Reading what trials report: the line parsers (and, later, the Prometheus client and sidecar)."""
