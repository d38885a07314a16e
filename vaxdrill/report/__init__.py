"""Reports for planners and engineers: self-contained HTML pages and the comparison of two runs."""
