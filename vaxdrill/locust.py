"""What a locustfile can tell vaxdrill that plain Locust cannot say.

A plain locustfile needs none of this: ``vaxdrill loadtest SCENARIO -f shop.py`` runs its user
classes with the scenario's shape, full-precision percentiles per request name, SLOs on those
names, pre-flight and exit codes. Import this module to add a custom metric, a ledger and its
verifier (the integrity check) or a pre-flight of your own::

    import httpx
    from locust import HttpUser, task

    import vaxdrill.locust as vx


    class Shopper(HttpUser):
        @vx.preflight
        def health(self) -> None:
            self.client.get("/health").raise_for_status()

        @task
        def buy(self) -> None:
            order = self.client.post("/orders", json={"sku": "A1"}).json()
            vx.record(self, {"order": order["id"]})  # the ledger, merged across workers
            vx.observe(self, "basket_ms", order["basket_ms"])  # a custom metric (milliseconds)


    @vx.verifier
    def orders_kept(ledger: list[dict], host: str) -> dict:
        held = {o["id"] for o in httpx.get(f"{host}/orders").json()}
        lost = [e["order"] for e in ledger if e["order"] not in held]
        return {"passed": not lost, "lost": len(lost)}

Every call is a no-op under plain Locust (``locust -f shop.py``), so the file runs there too.
This module imports Locust: import it only from a locustfile, never from the ``vaxdrill`` command.
"""

from __future__ import annotations

from locustfiles.extensions import Verifier, count, observe, preflight, record, verifier

__all__ = ["Verifier", "count", "observe", "preflight", "record", "verifier"]
