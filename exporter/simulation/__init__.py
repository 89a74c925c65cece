"""The simulation half of the exporter: the design document's story, served as it unfolds."""
