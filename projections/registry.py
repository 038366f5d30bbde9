"""Every projector of the product; the projection host runs these."""

from __future__ import annotations

from projections.runtime import Projector
from projections.users import UsersProjector

PROJECTORS: list[type[Projector]] = [UsersProjector]
