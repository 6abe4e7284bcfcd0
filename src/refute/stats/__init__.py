"""Statistics: reduce each run to one number, test the pre-registered predictions, decide a verdict."""
