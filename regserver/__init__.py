"""Reference registration server with a Co-WIN-shaped API."""
