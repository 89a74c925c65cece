"""The bridge's HTTP interface: Flask blueprints and the application factory."""
