"""Probes: look inside trained models, one module each, registered by name.

A probe job loads a run's weights (final, or snapshots over training), runs one probe batched over
the run's seeds, and writes a tidy table: seed, step, metric, site, unit, value. Rows with an
empty `unit` summarize a whole site; predictions address them as `<probe id>/<metric>@<site>`
(or `<probe id>/<metric>` when the row has no site) and test them like any logged metric.
"""
