"""The web console (/console/): server-rendered pages over the trust, sync and lookup services."""
