"""Experiment arms: which wording of a program a person gets, or none (the holdout).

Arms are "" (the program's main wording), each variant id of the program, and
"holdout" (people who get no nudges; their share is `program.holdout`). The
assignment is made once, at enrollment, and stored on the enrollment; the digest
slice compares the arms' behavior rates (bot.digest.experiments).
"""

from __future__ import annotations

import hashlib

from bot.content.schema import Program

HOLDOUT = "holdout"
MAIN = ""


def _unit(*parts: str) -> float:
    """A number in [0, 1) that depends only on `parts`: stable across runs and machines."""
    digest = hashlib.sha256(":".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_arm(program: Program, person_key: str) -> str:
    """The person's arm in this program: the same answer every time, on every replica.

    Two independent hashes: one decides holdout (with probability
    `program.holdout`), the other spreads everyone else evenly over the main
    wording and the variants. Salting with the program id keeps one person from
    landing in the holdout of every program.
    """
    if _unit("holdout", program.id, person_key) < program.holdout:
        return HOLDOUT
    arms = [MAIN, *program.variant_ids]
    return arms[int(_unit("arm", program.id, person_key) * len(arms))]
