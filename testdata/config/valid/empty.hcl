# An empty project is valid: nothing to run.
