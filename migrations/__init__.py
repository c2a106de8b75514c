"""The hub's Alembic migrations, installed as the package `hub.migrations`."""
