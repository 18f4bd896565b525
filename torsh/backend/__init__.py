"""Backend layer: event bus, kernel dispatch and memory accounting (imports nothing above it)."""
