"""Example configuration (trust groups, feeds), installed as `hub.examples` so `hub demo` finds it."""
