"""Tasks: one module each, registered by name. A task builds its data set deterministically."""
