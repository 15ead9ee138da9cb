"""Runtime: actors, supervision, the embedded server and the CLI."""
