"""Locust user journeys and load shapes; run with ``locust -f locustfiles/<file>.py``."""
