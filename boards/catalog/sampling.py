"""Choosing images for a batch: ``Sample``, at random (seeded) or the first n in an order."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from django.db.models import F

from boards.models import MAX_BATCH_IMAGES
from core import params
from core.errors import InvalidInput

RANDOM = "random"
ORDERED = "ordered"
BY_UPLOAD = "uploaded"
BY_FILENAME = "filename"
SEED_LIMIT = 2**53  # seeds stay exact in JSON and JavaScript


@dataclass(frozen=True)
class Sample:
    """Take ``n`` of the free images: at random (seeded) or the first ``n`` in an order."""

    n: int
    mode: str = RANDOM
    seed: int | None = None
    order: str = BY_UPLOAD

    @classmethod
    def parse(cls, value: Sample | Mapping | None) -> Sample | None:
        """A ``Sample`` from a mapping like {"n": 10, "mode": "random", "seed": 7}; a random
        sample without a seed gets a new one (stored on the batch, so it can be repeated)."""
        if value is None or isinstance(value, Sample):
            sample = value
        else:
            unknown = set(value) - {"n", "mode", "seed", "order"}
            if unknown:
                raise InvalidInput(f"A sample has n, mode, seed and order; not {', '.join(sorted(unknown))}.")
            n = params.integer(value, "n", label="The number of images to sample, n,", required=True)
            seed = params.integer(value, "seed", label="The sample's seed")
            sample = cls(n=n, mode=value.get("mode") or RANDOM, seed=seed, order=value.get("order") or BY_UPLOAD)
        if sample is None:
            return None
        if sample.n < 1:
            raise InvalidInput("A sample takes at least 1 image.")
        if sample.n > MAX_BATCH_IMAGES:
            raise InvalidInput(
                f"A sample of {sample.n:,} images is too many: a batch holds at most {MAX_BATCH_IMAGES:,}."
            )
        if sample.mode not in (RANDOM, ORDERED):
            raise InvalidInput("A sample is either random or ordered.")
        if sample.order not in (BY_UPLOAD, BY_FILENAME):
            raise InvalidInput("An ordered sample goes by upload time or by file name.")
        if sample.mode == RANDOM:
            if sample.seed is None:
                sample = replace(sample, seed=new_seed())
            if not 0 <= sample.seed < SEED_LIMIT:
                raise InvalidInput(f"A seed is a whole number from 0 to {SEED_LIMIT - 1:,}.")
        elif sample.seed is not None:
            sample = replace(sample, seed=None)
        return sample

    def ordering(self, *, free: bool = False) -> list:
        """The order the sample takes the first ``n`` in. ``free``: of images known to be free, by their
        free rows' copies of the upload time or name (``FreeImage``), whose indexes give that order."""
        if self.mode == RANDOM:
            return [sample_rank(self.seed), "pk"]
        by = "uploaded_at" if self.order == BY_UPLOAD else "original_filename"
        return [f"free__{by}", "free__image_id"] if free else [by, "pk"]

    def take_from(self, ids: Iterable[int]) -> list[int]:
        """The ids a random sample takes among ``ids``: the first ``n`` by ``sample_rank`` (then id),
        ranked here with the same integer arithmetic instead of by the database. For a selection
        whose ids are read already and none left out ("Add batch to project" by a filter): the
        database read every selected row to rank, sort and return them, 130–170 ms for 25,000 of
        34,077 on PostgreSQL. A random sample only: an ordered one needs each image's time or name."""
        if self.mode != RANDOM:
            raise ValueError("Only a random sample is drawn from ids alone.")
        rank = _ranking(self.seed)
        ranked = sorted((rank(pk), pk) for pk in ids)  # one sort: heapq.nsmallest took 127 ms for 25,000 of 34,077
        return [pk for _rank, pk in ranked[: self.n]]

    def describe(self) -> str:
        if self.mode == RANDOM:
            return f"{self.n:,} at random (seed {self.seed})"
        by = "upload time" if self.order == BY_UPLOAD else "file name"
        return f"the first {self.n:,} by {by}"


def new_seed() -> int:
    return secrets.randbelow(10**9)


# A prime p with p ≡ 2 (mod 3), so x → x³ permutes 0..p-1; below 2³¹ so that
# every product below stays under 2⁶² (exact in SQLite's and PostgreSQL's
# 64-bit integers; SQLite would turn an overflow into a float).
_P = 2_147_483_579


def _seed_constants(seed: int) -> tuple[int, int, int, int]:
    digest = hashlib.blake2b(str(seed).encode(), digest_size=16).digest()
    words = [int.from_bytes(digest[i : i + 4], "big") for i in range(0, 16, 4)]
    return 1 + words[0] % (_P - 1), words[1] % _P, 1 + words[2] % (_P - 1), words[3] % _P


def sample_rank(seed: int):
    """A SQL expression ranking images in a pseudo-random order fixed by ``seed``.

    ((a·id + b)³ mod p)·c + d mod p: a permutation of ids (no ties), computed by
    the database in plain integer arithmetic, the same on SQLite and PostgreSQL
    (and in Python by ``Sample.take_from``, for ids read already).
    The rank of an image depends only on its id and the seed, so the same seed
    over the same free images picks the same sample, and an image joining or
    leaving the pool does not reshuffle the others.
    """
    return _ranking(seed)(F("id"))


def _ranking(seed: int):
    """The rank of ``sample_rank`` as a function of the id: of an id (an int) in Python, of ``F("id")``
    in SQL, the one formula for both, so that ``Sample.take_from`` ranks as the database does."""
    a, b, c, d = _seed_constants(seed)

    def rank(pk):
        x = (pk % _P * a + b) % _P
        return ((x * x) % _P * x % _P * c + d) % _P

    return rank
