"""The command groups of ``ktrdr``, one module each, joined in ``ktrdr.cli.app``."""
