"""Probing: one probe on one run's weights, as a job."""
