"""``make demo``: the whole loop on loopback, and the process plumbing the tests share with it."""
