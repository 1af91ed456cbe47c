"""Boolean environment variables, read strictly: a typo must not flip a security switch.

``CALC_NO_AUTH=false`` once turned authentication *off* because any non-empty value counted
as true. Now only the usual spellings are accepted and anything else stops the program.
"""

from __future__ import annotations

from collections.abc import Mapping

TRUE = frozenset({"1", "true", "yes"})
FALSE = frozenset({"0", "false", "no"})


class BadFlag(ValueError):
    """An environment variable meant as a boolean holds something else."""


def env_flag(env: Mapping[str, str], name: str) -> bool:
    """``env[name]`` as a boolean: true/false, 1/0, yes/no in any case; unset or empty is false.

    Raises ``BadFlag`` (with a one-line reason that names the variable) for any other value.
    """
    value = env.get(name, "").strip().lower()
    if value in TRUE:
        return True
    if value in FALSE or value == "":
        return False
    raise BadFlag(f"{name} must be one of true/false, 1/0, yes/no (any case), got {env[name]!r}")
