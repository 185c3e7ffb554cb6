"""README documents every setting and the two quickstart commands."""

import re
from pathlib import Path

from yiwang.core.config import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented():
    missing = [f"YIWANG_{name.upper()}" for name in Settings.model_fields if f"`YIWANG_{name.upper()}`" not in README]
    assert not missing, f"document these settings in README's configuration table: {missing}"


def test_quickstart_has_exactly_two_commands():
    block = README.split("## Quickstart", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line for line in block.strip().splitlines() if line.strip()]
    assert [re.split(r"\s+#", c)[0].strip() for c in commands] == ["make up", "make test"]


def test_demo_password_documented_matches_default():
    assert f"**`{Settings.model_fields['demo_password'].default}`**" in README
