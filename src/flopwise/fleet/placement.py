"""Free-GPU bookkeeping of one pool: nodes bucketed by free GPUs, and topology blocks.

A placement is a tuple of (block, node, gpus) triples. Everything here is O(gpus_per_node) or
O(blocks) per call, so a pass of the scheduler stays cheap on thousands of GPUs.
"""

from __future__ import annotations

from flopwise.fleet.cluster import PoolSpec

Placement = tuple[tuple[int, int, int], ...]


class NodeSet:
    """Nodes of `gpn` GPUs; `buckets[k]` holds the nodes with exactly k free GPUs."""

    __slots__ = ("gpn", "free", "buckets", "free_total", "capacity", "packed")

    def __init__(self, n_nodes: int, gpn: int, packed: bool = True):
        self.gpn = gpn
        self.free = [gpn] * n_nodes
        self.buckets: list[set[int]] = [set() for _ in range(gpn + 1)]
        self.buckets[gpn] = set(range(n_nodes))
        self.free_total = n_nodes * gpn
        self.capacity = n_nodes * gpn
        self.packed = packed

    def can_fit(self, g: int) -> bool:
        if g > self.free_total:
            return False
        if not self.packed:
            return True
        G, b = self.gpn, self.buckets
        if g <= G:
            for k in range(g, G + 1):
                if b[k]:
                    return True
            return False
        full, rem = divmod(g, G)
        nfull = len(b[G])
        if rem == 0:
            return nfull >= full
        for k in range(rem, G):
            if b[k]:
                return nfull >= full
        return nfull >= full + 1

    def _take(self, node: int, k: int, c: int) -> None:
        self.buckets[k].discard(node)
        self.free[node] = k - c
        self.buckets[k - c].add(node)

    def _best_fit(self, c: int, out: list[tuple[int, int]]) -> None:
        """Take c GPUs (c <= GPUs per node) from the fullest node that still has c free."""
        b = self.buckets
        for k in range(c, self.gpn + 1):
            if b[k]:
                node = next(iter(b[k]))
                self._take(node, k, c)
                out.append((node, c))
                return

    def alloc(self, g: int) -> list[tuple[int, int]] | None:
        """Take g GPUs (best fit: the fullest node that still fits); None if they do not fit."""
        if not self.can_fit(g):
            return None
        G, b = self.gpn, self.buckets
        out: list[tuple[int, int]] = []
        if not self.packed:
            need = g
            for k in range(1, G + 1):
                while need and b[k]:
                    node = next(iter(b[k]))
                    c = min(k, need)
                    self._take(node, k, c)
                    out.append((node, c))
                    need -= c
                if not need:
                    break
        elif g <= G:
            self._best_fit(g, out)
        else:
            full, rem = divmod(g, G)
            if rem:
                self._best_fit(rem, out)
            for _ in range(full):
                node = next(iter(b[G]))
                self._take(node, G, G)
                out.append((node, G))
        self.free_total -= g
        return out

    def release(self, node: int, c: int) -> None:
        k = self.free[node]
        self.buckets[k].discard(node)
        self.free[node] = k + c
        self.buckets[k + c].add(node)
        self.free_total += c


class PoolState:
    """One pool's free GPUs; with a topology, nodes are grouped in blocks of `block_nodes`."""

    __slots__ = ("spec", "blocks", "block_gpus", "contiguous", "free_total", "capacity", "single")

    def __init__(self, spec: PoolSpec):
        self.spec = spec
        packed = spec.placement == "packed"
        topo = spec.topology
        if topo is None:
            self.blocks = [NodeSet(spec.nodes, spec.gpus_per_node, packed)]
            self.block_gpus = spec.gpus
            self.contiguous = False
        else:
            n_blocks = spec.nodes // topo.block_nodes
            self.blocks = [NodeSet(topo.block_nodes, spec.gpus_per_node, packed) for _ in range(n_blocks)]
            self.block_gpus = topo.block_nodes * spec.gpus_per_node
            self.contiguous = topo.kind == "contiguous"
        self.single = topo is None
        self.capacity = spec.gpus
        self.free_total = spec.gpus

    def held_for(self, g: int) -> int:
        """GPUs a job of g GPUs holds: a job larger than a block takes whole blocks."""
        if self.single or g <= self.block_gpus:
            return g
        return -(-g // self.block_gpus) * self.block_gpus

    def _free_blocks(self, k: int) -> list[int] | None:
        bg = self.block_gpus
        if self.contiguous:
            run = 0
            for i, ns in enumerate(self.blocks):
                run = run + 1 if ns.free_total == bg else 0
                if run == k:
                    return list(range(i - k + 1, i + 1))
            return None
        free = [i for i, ns in enumerate(self.blocks) if ns.free_total == bg]
        return free[:k] if len(free) >= k else None

    def can_fit(self, g: int) -> bool:
        if g > self.free_total:
            return False
        if self.single:
            return self.blocks[0].can_fit(g)
        if g <= self.block_gpus:
            return any(ns.can_fit(g) for ns in self.blocks)
        return self._free_blocks(-(-g // self.block_gpus)) is not None

    def alloc(self, g: int) -> Placement | None:
        """Take GPUs for a job of g GPUs; None if its shape does not fit now."""
        if g > self.free_total:
            return None
        if self.single:
            got = self.blocks[0].alloc(g)
            if got is None:
                return None
            self.free_total -= g
            return tuple((0, n, c) for n, c in got)
        if g <= self.block_gpus:
            best, best_free = -1, None
            for i, ns in enumerate(self.blocks):  # best fit: the fullest block that still fits
                if ns.free_total >= g and (best_free is None or ns.free_total < best_free) and ns.can_fit(g):
                    best, best_free = i, ns.free_total
            if best < 0:
                return None
            got = self.blocks[best].alloc(g)
            self.free_total -= g
            return tuple((best, n, c) for n, c in got)
        blocks = self._free_blocks(-(-g // self.block_gpus))
        if blocks is None:
            return None
        out = []
        for i in blocks:
            ns = self.blocks[i]
            out.extend((i, n, c) for n, c in ns.alloc(ns.capacity))
        self.free_total -= len(blocks) * self.block_gpus
        return tuple(out)

    def release(self, placement: Placement) -> None:
        for b, n, c in placement:
            self.blocks[b].release(n, c)
            self.free_total += c
