"""Texts of the playbook's privacy part, merged into ``core.texts.TEXTS`` and ``core.texts.staff.STAFF``."""

from __future__ import annotations

CUSTOMER: dict[str, dict[str, str]] = {}
STAFF: dict[str, dict[str, str]] = {}
