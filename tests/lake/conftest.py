"""A committed installation for the lake tests (fixtures in lake_fixtures, helpers in lake_helpers)."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("YIWANG_GOVERNANCE_BACKGROUND", "false")
sys.path.insert(0, os.path.dirname(__file__))  # lake_helpers, lake_fixtures

from lake_fixtures import lake_app, lake_client, lake_factory, lake_install, signed_in  # noqa: F401
