"""The 1:N gallery: enrolled templates in one float32 matrix, searched per person.

A person may have several templates; a person's score is their best template's. Rows live
in a preallocated matrix that grows by doubling; removal swaps the last row into the hole,
so adding and removing cost O(dim) per template, never a rebuild.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from kiosk.errors import TemplateError
from kiosk.recognition.template import Template, normalise, require_same_pack

Outcome = Literal["match", "uncertain", "no_match"]


@dataclass(frozen=True)
class Candidate:
    person_id: str
    score: float
    template_id: str


@dataclass(frozen=True)
class Policy:
    """The decision rule's numbers (from the pack manifest, optionally overridden)."""

    threshold: float
    candidate_threshold: float
    margin: float


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    candidates: tuple[Candidate, ...]
    policy: Policy

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    @property
    def runner_up(self) -> Candidate | None:
        return self.candidates[1] if len(self.candidates) > 1 else None

    @property
    def gap(self) -> float | None:
        if self.best is None:
            return None
        return self.best.score - (self.runner_up.score if self.runner_up else -1.0)


def decide(candidates: list[Candidate], policy: Policy) -> Decision:
    """``match`` only if the best person clears the threshold AND beats the best other
    person by the margin; ``uncertain`` if they clear the candidate floor; else ``no_match``."""
    ranked = tuple(candidates)
    if not ranked:
        return Decision("no_match", ranked, policy)
    best = ranked[0].score
    second = ranked[1].score if len(ranked) > 1 else -1.0
    if best >= policy.threshold and best - second >= policy.margin:
        return Decision("match", ranked, policy)
    if best >= policy.candidate_threshold:
        return Decision("uncertain", ranked, policy)
    return Decision("no_match", ranked, policy)


class Gallery:
    def __init__(self, pack: str, dim: int, capacity: int = 1024) -> None:
        if dim <= 0:
            raise TemplateError("gallery dimension must be positive")
        self.pack = pack
        self.dim = dim
        self._matrix = np.empty((max(1, capacity), dim), dtype=np.float32)
        self._owner = np.empty(max(1, capacity), dtype=np.int32)
        self._row_template: list[str] = []
        self._template_row: dict[str, int] = {}
        self._person_slot: dict[str, int] = {}
        self._slot_person: list[str | None] = []
        self._free_slots: list[int] = []
        self._person_templates: dict[str, set[str]] = {}
        self._next_id = 0

    def __len__(self) -> int:
        return len(self._row_template)

    @property
    def person_count(self) -> int:
        return len(self._person_slot)

    @property
    def nbytes(self) -> int:
        """Bytes held by template storage (matrix + owner index), capacity included."""
        return self._matrix.nbytes + self._owner.nbytes

    def persons(self) -> list[str]:
        return list(self._person_slot)

    def templates_of(self, person_id: str) -> list[str]:
        return sorted(self._person_templates.get(person_id, ()))

    def vectors_of(self, person_id: str) -> list[np.ndarray]:
        return [self._matrix[self._template_row[t]].copy()
                for t in self.templates_of(person_id)]

    def add(self, person_id: str, template: Template, template_id: str | None = None) -> str:
        require_same_pack(self.pack, template.pack)
        if template.dim != self.dim:
            raise TemplateError(f"template has {template.dim} values, gallery holds {self.dim}",
                                got=template.dim, expected=self.dim)
        return self.add_vectors(person_id, template.vector[None, :],
                                None if template_id is None else [template_id])[0]

    def add_vectors(self, person_id: str, vectors: np.ndarray,
                    template_ids: list[str] | None = None) -> list[str]:
        """Add already-validated vectors of this gallery's pack (bulk load from storage)."""
        vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        rows = np.stack([normalise(v, self.dim) for v in vectors]) if len(vectors) else vectors
        ids = template_ids or [self._new_id() for _ in range(len(rows))]
        if len(ids) != len(rows):
            raise TemplateError("one template id per vector")
        clash = [t for t in ids if t in self._template_row]
        if clash:
            raise TemplateError(f"template id already in the gallery: {clash[0]}")
        slot = self._slot_for(person_id)
        self._reserve(len(self) + len(rows))
        start = len(self)
        self._matrix[start : start + len(rows)] = rows
        self._owner[start : start + len(rows)] = slot
        for offset, tid in enumerate(ids):
            self._template_row[tid] = start + offset
            self._row_template.append(tid)
            self._person_templates[person_id].add(tid)
        return ids

    def bulk_load(self, vectors: np.ndarray, owners: list[str]) -> None:
        """Load many persons' unit vectors at once (benchmarks, start-up from disk)."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim or len(owners) != len(vectors):
            raise TemplateError("bulk_load needs an (n, dim) matrix and n owners")
        if not np.isfinite(vectors).all():
            raise TemplateError("bulk_load vectors contain NaN or infinite values")
        self._reserve(len(self) + len(vectors))
        start = len(self)
        self._matrix[start : start + len(vectors)] = vectors
        for offset, person_id in enumerate(owners):
            tid = self._new_id()
            self._owner[start + offset] = self._slot_for(person_id)
            self._template_row[tid] = start + offset
            self._row_template.append(tid)
            self._person_templates[person_id].add(tid)

    def remove_template(self, template_id: str) -> None:
        row = self._template_row.pop(template_id, None)
        if row is None:
            return
        slot = int(self._owner[row])
        person_id = self._slot_person[slot]
        last = len(self) - 1
        if row != last:
            moved = self._row_template[last]
            self._matrix[row] = self._matrix[last]
            self._owner[row] = self._owner[last]
            self._row_template[row] = moved
            self._template_row[moved] = row
        self._row_template.pop()
        if person_id is not None:
            remaining = self._person_templates[person_id]
            remaining.discard(template_id)
            if not remaining:
                self._drop_person(person_id)

    def remove_person(self, person_id: str) -> int:
        """Forget every template of a person (consent withdrawn); returns how many."""
        ids = list(self._person_templates.get(person_id, ()))
        for tid in ids:
            self.remove_template(tid)
        return len(ids)

    def search(self, template: Template, k: int = 5,
               among: Iterable[str] | None = None) -> list[Candidate]:
        """Top-k persons by their best cosine score, best first."""
        require_same_pack(self.pack, template.pack)
        if template.dim != self.dim:
            raise TemplateError(f"probe has {template.dim} values, gallery holds {self.dim}")
        if among is not None:
            return self._search_subset(template.vector, k, among)
        n = len(self)
        if n == 0 or k < 1:
            return []
        scores = self._matrix[:n] @ template.vector
        want = max(2, k)
        m = min(n, max(64, 8 * want))
        while True:
            if m >= n:
                top = np.argsort(-scores)
            else:
                part = np.argpartition(scores, n - m)[n - m :]
                top = part[np.argsort(-scores[part])]
            found = self._distinct(top, scores, k)
            if len(found) >= min(want, self.person_count) or m >= n:
                return found[:k]
            m = min(n, m * 4)

    def _search_subset(self, vector: np.ndarray, k: int, among: Iterable[str]) -> list[Candidate]:
        rows = [self._template_row[t] for p in among for t in self._person_templates.get(p, ())]
        if not rows:
            return []
        idx = np.asarray(rows, dtype=np.int64)
        scores = np.full(len(self), -np.inf, dtype=np.float32)
        scores[idx] = self._matrix[idx] @ vector
        return self._distinct(idx[np.argsort(-scores[idx])], scores, k)

    def _distinct(self, rows: np.ndarray, scores: np.ndarray, k: int) -> list[Candidate]:
        seen: set[int] = set()
        out: list[Candidate] = []
        for row in rows:
            slot = int(self._owner[row])
            if slot in seen:
                continue
            seen.add(slot)
            person = self._slot_person[slot]
            assert person is not None
            out.append(Candidate(person, float(scores[row]), self._row_template[row]))
            if len(out) >= max(2, k):
                break
        return out

    def _slot_for(self, person_id: str) -> int:
        slot = self._person_slot.get(person_id)
        if slot is None:
            if self._free_slots:
                slot = self._free_slots.pop()
                self._slot_person[slot] = person_id
            else:
                slot = len(self._slot_person)
                self._slot_person.append(person_id)
            self._person_slot[person_id] = slot
            self._person_templates[person_id] = set()
        return slot

    def _drop_person(self, person_id: str) -> None:
        slot = self._person_slot.pop(person_id)
        self._slot_person[slot] = None
        self._free_slots.append(slot)
        del self._person_templates[person_id]

    def _reserve(self, needed: int) -> None:
        capacity = len(self._matrix)
        if needed <= capacity:
            return
        while capacity < needed:
            capacity *= 2
        matrix = np.empty((capacity, self.dim), dtype=np.float32)
        owner = np.empty(capacity, dtype=np.int32)
        matrix[: len(self)] = self._matrix[: len(self)]
        owner[: len(self)] = self._owner[: len(self)]
        self._matrix, self._owner = matrix, owner

    def _new_id(self) -> str:
        self._next_id += 1
        return f"t{self._next_id}"
