"""The admin API (/admin/v1) over the trust, sync and audit services."""
