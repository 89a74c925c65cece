"""The local loop behind drift-demo, and the process helpers tests and benchmarks reuse.

It runs from a source checkout only (it starts the shipped configs from prometheus/); the wheel and
the image leave it out.
"""
