"""Prediction kinds: one module each, registered under the `kind:` a hypothesis file names."""
