"""Subcommands of the ``pointwm`` console command, one module each."""
