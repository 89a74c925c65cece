"""Small helpers the exporter and the bridge both use; neither component imports the other."""
