"""The command line (the only typer/rich importer)."""
