"""What kgtwin decides where the DTDL specification leaves the choice to the service.

Three things are a service's to decide (DTDL v2 and v3 Specification §Model completeness,
DTDL Extensions §Extension support): whether a model naming an extension context the
service has no definition of is accepted, which limit extensions it accepts, and which
optional extensions it supports. The defaults follow the specification's recommendations
and agree with Microsoft's DTDLParser, so that models move between Azure Digital Twins and
kgtwin (``docs/conformance.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# DTDL Extensions §Limit extensions: "there is no requirement for a service to accept any
# given limit extension". Named without version, as DTDLParser's options name them.
LIMIT_EXTENSIONS = frozenset({"dtmi:dtdl:limits:onvif"})
# Extension versions published after DTDLParser 1.1.3, which does not recognize them.
LATER_EXTENSIONS = frozenset({"dtmi:dtdl:extension:mqtt;3"})


@dataclass(frozen=True)
class DtdlPolicy:
    """The service's choices when reading DTDL; the defaults are the specification's.

    ``undefined_extensions``: accept (True) or reject (False) a model whose ``@context``
    names an extension context kgtwin has no definition of; ``None`` does what each DTDL
    version recommends: accept in v2 (v2 Specification §Model completeness), reject in v3
    and v4 (v3 Specification, same section).

    ``limit_extensions``: the limit extensions accepted after a ``#limitless`` context
    (``"dtmi:dtdl:limits:onvif"``); none by default, as in DTDLParser.

    ``later_extensions``: extension contexts kgtwin knows but DTDLParser 1.1.3 does not
    (``"dtmi:dtdl:extension:mqtt;3"``), read as defined when listed here; otherwise they
    are undefined extensions, as DTDLParser reads them.
    """

    undefined_extensions: bool | None = None
    limit_extensions: frozenset[str] = field(default_factory=frozenset)
    later_extensions: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        # Given as any collection (a list from settings); kept as frozensets, so the policy hashes.
        object.__setattr__(self, "limit_extensions", frozenset(self.limit_extensions))
        object.__setattr__(self, "later_extensions", frozenset(self.later_extensions))
        for name, given, known in (
            ("limit extension", self.limit_extensions, LIMIT_EXTENSIONS),
            ("later extension", self.later_extensions, LATER_EXTENSIONS),
        ):
            unknown = set(given) - known
            if unknown:
                raise ValueError(f"unknown {name}(s) {sorted(unknown)}; known: {sorted(known)}")

    def tolerates_undefined(self, version: int) -> bool:
        """Whether an undefined extension context is tolerated in a model of DTDL ``version``."""
        return version == 2 if self.undefined_extensions is None else self.undefined_extensions

    def accepts_limits(self, context: str) -> bool:
        """Whether a limit extension context (``dtmi:dtdl:limits:onvif;1``) is accepted."""
        return context.split(";", 1)[0] in self.limit_extensions

    def knows(self, context: str) -> bool:
        """Whether an extension context kgtwin has a definition of counts as defined."""
        return context not in LATER_EXTENSIONS or context in self.later_extensions


DEFAULT_POLICY = DtdlPolicy()
