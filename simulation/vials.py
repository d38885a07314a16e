"""Multi-dose vials at a site: opened on demand, discarded 4 h after opening or at session end.

MoHFW at launch (english.jagran.com): no open-vial policy, an opened vial is discarded 4 h after
opening or at the end of the session, whichever comes first. Covishield came in 10-dose vials,
early Covaxin in 20-dose vials (livemint.com). Discards are counted lazily (when the next dose is
wanted, and at session end), so vials cost no events.
"""

from __future__ import annotations

import math

from vaxdrill.core.scenario.sites import Vials


class VialStock:
    __slots__ = (
        "discard_after",
        "doses_per_vial",
        "late_after",
        "late_min",
        "left",
        "opened",
        "opened_at",
        "stock_left",
        "used",
        "wasted",
    )

    def __init__(self, vials: Vials) -> None:
        self.doses_per_vial = vials.doses_per_vial
        self.discard_after = vials.discard_after
        self.stock_left: float = math.inf if vials.stock is None else float(vials.stock)
        self.late_after = vials.late_open_after if vials.late_open_after is not None else math.inf
        self.late_min = vials.late_open_min_waiting
        self.left = 0  # doses left in the open vial
        self.opened_at = 0.0
        self.opened = 0  # vials opened
        self.used = 0
        self.wasted = 0

    def take(self, now: float, waiting: int) -> bool:
        """Take a dose for the next beneficiary (``waiting`` counts them too); False when none."""
        if self.left > 0 and now - self.opened_at <= self.discard_after:
            self.left -= 1
            self.used += 1
            return True
        if self.left > 0:  # 4 h after opening: discarded
            self.wasted += self.left
            self.left = 0
        if now >= self.late_after and waiting < self.late_min:
            return False  # not worth opening a vial this late for so few
        if self.stock_left <= 0:
            return False
        size = int(min(self.doses_per_vial, self.stock_left))
        self.stock_left -= size
        self.opened += 1
        self.opened_at = now
        self.left = size - 1
        self.used += 1
        return True

    def session_end(self) -> None:
        """The open vial is discarded when the session ends."""
        self.wasted += self.left
        self.left = 0
