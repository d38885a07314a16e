"""``vaxdrill ui``: a local what-if page for planners.

The planner picks a scenario, moves a few controls (outage, site links, a switch rule, staff, SMS,
no-shows, replications) and reads the answer, the curves and the policy table of that what-if.
The page's whole state is its query string (:mod:`vaxdrill.ui.whatif`), so a shared URL runs the
same scenario with the same seed and shows the same figures; the what-if downloads as a scenario
YAML that ``vaxdrill simulate`` reads back, and as the ``report.html`` of that run.

Layer: just below the CLI, beside :mod:`vaxdrill.locust`; it uses the simulation and the reports.
"""
