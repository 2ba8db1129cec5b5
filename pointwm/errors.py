"""The project's error types: one base class for every domain error.

A domain error is bad input or a state the user can fix (a file, a setting, an argument, a
shape). Its message names the input and says what was expected; the CLI prints it as one
line (exit status 2). Anything else (a ``TypeError`` from a bug, say) keeps its traceback.
Each subclass is also the built-in exception callers caught before it existed (most are
``ValueError``s), so ``except ValueError`` still catches them.

Kept a leaf: the standard library only.
"""

from __future__ import annotations

__all__ = ["CLIError", "ConfigError", "InputError", "PointwmError"]


class PointwmError(Exception):
    """Base class of pointwm's domain errors."""


class ConfigError(PointwmError, ValueError):
    """A setting out of range or of the wrong kind: a config field, a YAML file, an option."""


class InputError(PointwmError, ValueError):
    """Input data that does not fit: a shape, a value, a file's content."""


class CLIError(PointwmError, ValueError):
    """A command line that cannot be run as given: a missing or contradictory option."""
