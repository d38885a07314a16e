"""The ground layer: scenario models, units, distributions, errors and exit codes, results folders,
typed result documents, the server-profile model and statistics. It imports no other vaxdrill layer."""
