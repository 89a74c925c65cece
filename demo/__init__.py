"""``make demo``: the whole loop on loopback (from a checkout), and the demo's retraining job."""
