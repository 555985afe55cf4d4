"""Error types: everything a user can cause is a MecsimError and prints as one line."""
from __future__ import annotations

__all__ = ["MecsimError", "ConfigError", "PlausibilityWarning", "RunSizeWarning", "UnknownControllerError",
           "ControllerError", "raised"]


class MecsimError(Exception):
    """Base of every error mecsim raises on purpose (the CLI prints it as one line, exit code 2)."""


class ConfigError(MecsimError, ValueError):
    """Bad scenario input. The message follows `where: what must hold, got value. Hint.`"""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 path: str | None = None) -> None:
        where = ""
        if file:
            where = f"{file}:{line}: " if line else f"{file}: "
        if path:
            where += f"{path}: "
        super().__init__(where + message)
        self.file, self.line, self.path = file, line, path


class PlausibilityWarning(MecsimError, UserWarning):
    """A legal value far outside the physical range of its unit (likely a unit slip): a warning, so a
    run goes on; ``--strict`` (or ``warnings.simplefilter("error", PlausibilityWarning)``) makes it
    an error that prints as one line like any MecsimError."""


class RunSizeWarning(MecsimError, UserWarning):
    """A run that will take long: estimated above :data:`mecsim.sizing.EVENTS_NOTICE` events before it
    starts, or falling behind while it runs. About cost, not validity: ``--strict`` leaves it a warning."""


class UnknownControllerError(MecsimError, LookupError):
    """A controller name that is neither registered nor an importable `module:Class`."""


class ControllerError(MecsimError):
    """A controller's own code (module, constructor, ``act``, ``observe``) raised: the cause is chained,
    so ``mecsim --debug`` shows its traceback."""


def raised(controller: str, exc: BaseException, where: str) -> ControllerError:
    """``CONTROLLER: raised ERROR WHERE: message`` (the message's first line), to raise ``from exc``."""
    lines = str(exc).strip().splitlines()
    message = f": {lines[0]}" if lines else ""
    return ControllerError(f"{controller}: raised {type(exc).__name__} {where}{message}")
