"""What a district planner asks beyond the headline (issue 19, items 7 and 8): ``planner.json``.

Per policy, over the replications (mean and 95% interval):

- ``share_of_sites_under_half``: share of sites that vaccinated under 50% of their target;
- ``worst_site``: the site with the lowest mean attainment, and that attainment;
- ``attainment_by_kind``: vaccinated / target over rural and over urban sites;
- ``last_person_leaves``: when the district's last beneficiary left (clock time, mean);
- ``staff_hours_after_close``: the site teams' hours past closing (team size x overtime);
- ``probability_best``: the share of paired replications in which the policy vaccinated the most
  (ties shared), so a planner sees how often the ranking holds, not only the mean.

And the assumptions the answer rests on, in words, with (``flip_check``) the answer under the
other choice of the one that moves it most: whether sites stay open until everyone is served
(``at_close: finish``) or send the rest home (``send_home``). The issue's Raigad figures: under
``finish`` offline_first beats as_happened by about 10, under ``send_home`` by about 99.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from simulation.district import order_assumptions
from simulation.experiment import ci95, run_replications
from simulation.hybrid import option_assumptions
from simulation.model import ReplicationResult
from simulation.quality import quality_assumptions
from simulation.shifts import team
from simulation.turnout import turnout_assumptions
from vaxdrill.core.documents.planner import PlannerDocument
from vaxdrill.core.scenario.model import Scenario
from vaxdrill.core.scenario.policies import OfflineAfter
from vaxdrill.core.scenario.units import format_clock

SCHEMA = PlannerDocument.SCHEMA


def _target(site: Any) -> int:
    return int(site.target if site.target is not None else site.booked)


def district(scenario: Scenario, results: Sequence[ReplicationResult]) -> dict[str, Any]:
    """The planner's per-policy outputs (see the module docstring)."""
    names = list(results[0].policies) if results else []
    sites = scenario.sites
    out: dict[str, Any] = {}
    vacc = np.array([[r.policies[p].total["vaccinated"] for p in names] for r in results])
    best = vacc == vacc.max(axis=1, keepdims=True)
    prob = (best / best.sum(axis=1, keepdims=True)).mean(axis=0)
    for k, name in enumerate(names):
        att = np.array([[r.policies[name].sites[s.name]["attainment"] for s in sites] for r in results])
        under = ci95((att < 0.5).mean(axis=1).tolist())
        mean_att = att.mean(axis=0)
        worst = int(np.argmin(mean_att))
        by_kind: dict[str, Any] = {}
        for kind in ("rural", "urban"):
            idx = [j for j, s in enumerate(sites) if s.kind == kind]
            target = sum(_target(sites[j]) for j in idx)
            if not idx or not target:
                continue
            done = [sum(r.policies[name].sites[sites[j].name]["vaccinated"] for j in idx) / target for r in results]
            by_kind[kind] = ci95(done).as_json()
        last = [max(s.opens + r.policies[name].sites[s.name]["span_minutes"] * 60.0 for s in sites) for r in results]
        after = [
            sum(team(s) * r.policies[name].sites[s.name]["overtime_minutes"] / 60.0 for s in sites) for r in results
        ]
        out[name] = {
            "share_of_sites_under_half": under.as_json(),
            "worst_site": {"name": sites[worst].name, "attainment": ci95(att[:, worst].tolist()).as_json()},
            "attainment_by_kind": by_kind,
            "last_person_leaves": format_clock(min(float(np.mean(last)), 24 * 3600.0 - 60)),
            "staff_hours_after_close": ci95(after).as_json(),
            "probability_best": round(float(prob[k]), 4),
        }
        out[name].update(_quality(scenario, results, name))
    return out


def _quality(scenario: Scenario, results: Sequence[ReplicationResult], name: str) -> dict[str, Any]:
    """Data quality and the next day (issue 19, items 5 and 6), when the scenario asks for them."""
    tot = [r.policies[name].total for r in results]

    def iv(key: str) -> dict[str, Any]:
        return ci95([t[key] for t in tot]).as_json()

    out: dict[str, Any] = {}
    if scenario.data_quality is not None:
        keys = ["mode_switches", "duplicates_expected", "duplicates_from_switches_expected", "wrong_records_expected"]
        keys += ["wrong_records_from_switches_expected", "reconciliation"]
        out["data_quality"] = {k: iv(k) for k in keys}
    rep = scenario.reporting
    if rep is not None:
        n = max(len(scenario.sites), 1)
        latest = max((t["next_day_cleared_minutes"] for t in tot), default=0.0) * 60.0  # worst replication
        out["next_day"] = {
            "report_time": format_clock(rep.time),
            "deadline": format_clock(rep.next_day_deadline),
            **{k: iv(k) for k in ("visible_at_report", "backlog_at_report")},
            **{k: iv(k) for k in ("visible_at_next_deadline", "backlog_at_next_deadline")},
            "share_of_sites_cleared_by_deadline": ci95([t["cleared_by_next_deadline"] / n for t in tot]).as_json(),
            "latest_clearing": format_clock(min(latest, 24 * 3600.0 - 60)),
        }
    return out


def assumptions(scenario: Scenario) -> list[str]:
    """The assumptions the answer rests on, as a planner would say them."""
    sites = scenario.sites
    out: list[str] = []
    finish = sum(1 for s in sites if s.at_close == "finish" and (s.shift is None or s.shift.ends is None))
    if finish == len(sites):
        out.append("sites stay open until everyone is served")
    elif finish == 0:
        out.append("those still waiting at close (or at the shift end) are sent home")
    else:
        out.append(f"{finish} of {len(sites)} sites stay open until everyone is served")
    out.extend(turnout_assumptions(sites))
    if not any(s.roles.verifier_back_entry for s in sites):
        out.append("paper records are entered by an extra back-entry clerk")
    if not any(s.roles.vaccinator_records for s in sites) and any(s.stations.recording for s in sites):
        out.append("a separate clerk records each dose")
    escalations = {p.escalation for p in scenario.policies.values() if isinstance(p, OfflineAfter)}
    if escalations:
        minutes = ", ".join(f"{e / 60:.0f} min" for e in sorted(escalations))
        out.append(f"the order to go to paper reaches every site after the same delay ({minutes})")
    out.extend(order_assumptions(scenario.policies.values()))
    out.extend(option_assumptions(scenario.policies.values()))
    out.extend(quality_assumptions(scenario))
    return out


def _ranked(scenario: Scenario, results: Sequence[ReplicationResult]) -> list[str]:
    """Policies by mean vaccinated, then by vaccinated at the checkpoints (as the answer ranks them)."""
    cps = [f"vaccinated_by.{format_clock(c)}" for c in scenario.checkpoints]

    def score(name: str) -> tuple[float, float]:
        tot = [r.policies[name].total for r in results]
        return float(np.mean([t["vaccinated"] for t in tot])), float(np.mean([sum(t[c] for c in cps) for t in tot]))

    return sorted(results[0].policies, key=score, reverse=True)


def _pair(scenario: Scenario, results: Sequence[ReplicationResult]) -> tuple[str, str]:
    """The answer's comparison: the best policy against the first listed (or the runner-up if that is it)."""
    ranked = _ranked(scenario, results)
    ref = next(iter(results[0].policies))
    if len(ranked) < 2:
        return ref, ref
    return (ranked[0], ref) if ranked[0] != ref else (ref, ranked[1])


def _margin(results: Sequence[ReplicationResult], a: str, b: str) -> dict[str, Any]:
    diff = ci95([r.policies[a].total["vaccinated"] - r.policies[b].total["vaccinated"] for r in results])
    return {"policy": a, "over": b, **diff.as_json()}


def flip_check(scenario: Scenario, results: Sequence[ReplicationResult], seed: int) -> dict[str, Any]:
    """Re-run the same replications (same seeds) with every site's ``at_close`` the other way."""
    flipped_close = {"finish": "send_home", "send_home": "finish"}
    sites = [s.model_copy(update={"at_close": flipped_close[s.at_close]}) for s in scenario.sites]
    other = scenario.model_copy(update={"sites": sites})
    again = run_replications(other, len(results), seed, list(results[0].policies))
    best, ref = _pair(scenario, results)
    obest = _ranked(other, again)[0]
    choice = "send_home" if all(s.at_close == "finish" for s in scenario.sites) else "finish"
    return {
        "assumption": "at_close",
        "other_choice": choice,
        "best": best,
        "best_other": obest,
        "flips": obest != best,
        "margin": _margin(results, best, ref),
        "margin_other": _margin(again, best, ref),
    }


def sentence(scenario: Scenario, results: Sequence[ReplicationResult], flip: dict[str, Any] | None) -> str:
    """The answer's assumptions, and what happens under the other choice."""
    text = "Assuming " + "; ".join(assumptions(scenario)) + "."
    if flip is not None:
        m, o = flip["margin"], flip["margin_other"]
        lo, hi = o["ci95"]
        head = f"the best policy becomes {flip['best_other']}" if flip["flips"] else "the best policy stays"
        text += (
            f" With at_close: {flip['other_choice']} {head}: {o['policy']} minus {o['over']} is "
            f"{o['mean']:+.0f} [{lo:.0f}, {hi:.0f}] vaccinated (against {m['mean']:+.0f})."
        )
    return text


def planner_document(
    scenario: Scenario, results: Sequence[ReplicationResult], seed: int, check_flip: bool = False
) -> dict[str, Any]:
    """``planner.json``: district outputs per policy, the assumptions and (optionally) the flip check."""
    flip = flip_check(scenario, results, seed) if check_flip and results else None
    doc = {
        "schema": SCHEMA,
        "scenario": scenario.name,
        "seed": seed,
        "replications": len(results),
        "assumptions": assumptions(scenario),
        "sentence": sentence(scenario, results, flip),
        "flip_check": flip,
        "policies": district(scenario, results),
    }
    return PlannerDocument.model_validate(doc).to_json()  # validated as written: schemas/ describes it
