"""A committed installation for the governance tests (fixtures in lake_fixtures, helpers in lake_helpers)."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("YIWANG_GOVERNANCE_BACKGROUND", "false")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "lake"))  # lake_helpers, lake_fixtures

from lake_fixtures import lake_app, lake_client, lake_factory, lake_install, signed_in  # noqa: F401
