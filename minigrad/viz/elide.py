"""Pass 6, elide: hide runs of timesteps behind a dashed box, or fold each chain into one cell.

Neither deletes anything yet: :class:`Hiding` records which node stands for which, and the
last pass (:mod:`.assemble`) draws only the stand-ins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .names import index_pattern, leading_index

if TYPE_CHECKING:
    from .build import Draft
    from .graph import Steps


@dataclass(eq=False)
class Hiding:
    """What :func:`elide_steps` or :func:`fold_steps` took out of the picture."""

    hidden: dict[str, str] = field(default_factory=dict)  # hidden node -> its elided box
    elided: dict[tuple[str, ...], list[tuple[str, list[int]]]] = field(default_factory=dict)  # chain -> (box, steps)
    merge: dict[str, str] = field(default_factory=dict)  # folded: a step's node -> the cell's node
    folds: dict[tuple[str, ...], tuple[int, list[int]]] = field(default_factory=dict)  # chain -> (cell's step, all)

    def drawn(self, nid: str) -> str:
        """The node that stands for ``nid`` in the picture (itself, the cell's, or a box)."""
        return self.merge.get(nid) or self.hidden.get(nid) or nid


def elide_steps(draft: Draft, steps: Steps) -> Hiding:
    """Elide: hide runs of timesteps behind one dashed box each: the middle of a long chain
    (``max_timesteps``), or every step but the one in ``focus``, on either side of it."""
    hiding = Hiding()
    focus, max_timesteps = draft.options.focus, draft.options.max_timesteps
    if focus is None and max_timesteps is None:
        return hiding
    if focus is not None and steps.chains and not any(focus in by_step for by_step in steps.chains.values()):
        drawn = sorted({t for by_step in steps.chains.values() for t in by_step})
        raise ValueError(f"draw_graph: focus={focus}, but the graph's timesteps are {drawn[0]} ... {drawn[-1]}")
    for chain, by_step in steps.chains.items():
        ts = sorted(by_step)
        if focus is not None:
            runs = [[s for s in ts if s < focus], [s for s in ts if s > focus]]
        elif len(ts) > max_timesteps:
            runs = [ts[(max_timesteps + 1) // 2 : len(ts) - max_timesteps // 2]]
        else:
            continue
        for gone in runs:
            if gone:
                box = draft.new(
                    "elided",
                    f"... {len(gone)} timesteps hidden ...",
                    timestep=gone[0],
                    count=len(gone),
                    cluster=chain + (f"t{gone[0]}..t{gone[-1]}",),
                    detail=f"t = {gone[0]} ... {gone[-1]}",
                )
                hiding.elided.setdefault(chain, []).append((box.id, gone))
                for s in gone:
                    for nid in by_step[s]:
                        hiding.hidden[nid] = box.id
    return hiding


def fold_steps(draft: Draft, steps: Steps) -> Hiding:
    """Elide (``fold=True``): the rolled view. Each chain is drawn as ONE cell, its fullest step;
    every other step's nodes merge into the cell's matching nodes (:func:`step_keys`), so the
    cell's node counts and painted norms stand for every step. An op only some steps run stays."""
    hiding = Hiding()
    for chain, by_step in steps.chains.items():
        ts = sorted(by_step)
        rep_step = max(ts, key=lambda s: (len(by_step[s]), -s))
        hiding.folds[chain] = (rep_step, ts)
        cell = chain + ("cell",)
        rep_keys = dict(zip(step_keys(draft, by_step[rep_step]), by_step[rep_step]))
        for nid in by_step[rep_step]:
            node = draft.nodes[nid]
            node.cluster, node.count = cell, len(ts)
            made = draft.producer(draft.tensor_of[nid]) if node.op == "getitem" else None
            if made is not None and leading_index((made[2] or {}).get("index")) == rep_step:
                node.detail = "[t" + node.detail[len(f"[{rep_step}") :]  # x_proj[t]
        for s in ts:
            if s == rep_step:
                continue
            for nid, key in zip(by_step[s], step_keys(draft, by_step[s])):
                if key in rep_keys:
                    hiding.merge[nid] = rep_keys[key]
                else:  # an op only some steps run stays as it is
                    draft.nodes[nid].cluster = cell
    return hiding


def step_keys(draft: Draft, ids: list[str]) -> list[tuple]:
    """What each of a step's nodes is, the same at every step: its kind, name or primitive, index
    pattern (``x[3]`` matches ``x[4]``) and whether it is differentiated, numbered by occurrence."""
    seen: dict[tuple, int] = {}
    keys = []
    for nid in ids:
        node = draft.nodes[nid]
        made = draft.producer(draft.tensor_of[nid]) if node.op == "getitem" else None
        index = index_pattern((made[2] or {}).get("index")) if made is not None else ()
        name = (node.kind, node.label, index, node.tracked)
        seen[name] = seen.get(name, -1) + 1
        keys.append((name, seen[name]))
    return keys
