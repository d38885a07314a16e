"""Load tests: full-precision recording, SLOs, shapes, capacity, integrity (never imports Locust)."""
