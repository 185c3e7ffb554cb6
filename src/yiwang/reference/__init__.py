"""Reference city packs: real reference data plus demo content that makes a fresh install useful."""
