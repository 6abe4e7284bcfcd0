"""Components: the registered vocabulary of hypotheses (tasks, models, optimizers, observables, probes,
reductions, prediction kinds), each kind with an explicit contract."""
