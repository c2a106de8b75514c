"""The hub's vocabulary, shared with the connectors: TLP, STIX types, deterministic ids, timestamps.

A leaf package: it imports nothing else from the hub (an import-linter contract), so the connectors, which
never import the hub, may import it.
"""
