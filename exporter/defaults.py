"""Defaults that several exporter commands share, each written once."""

# Where `simulate` and `watch` serve /metrics unless --web.listen-address says otherwise.
DEFAULT_LISTEN = "127.0.0.1:9911"
# The alert rule's threshold (prometheus/rules: drift:threshold); `check` and `score` use the same.
DEFAULT_THRESHOLD = 0.2
# The gauge both halves of the exporter publish, and the alert rule reads.
SCORE_METRIC = "drift_score"
