"""core — the thin shared kernel; it imports no domain."""
