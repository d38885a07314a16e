"""SimPy model of vaccination session sites (see issue: simulation)."""
