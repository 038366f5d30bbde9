"""AES-GCM nonces: never repeated, not even by a forked child and its parent."""

from __future__ import annotations

import os

from infrastructure.mapper import _Nonces


def test_nonces_are_unique_across_refills() -> None:
    nonces = _Nonces(chunk=120)  # ten per read, so the loop refills many times
    taken = [nonces.take() for _ in range(1000)]
    assert all(len(n) == 12 for n in taken)
    assert len(set(taken)) == len(taken)


def test_a_forked_child_does_not_reuse_the_parents_buffer() -> None:
    nonces = _Nonces()
    nonces.take()  # the buffer now holds the next 340 nonces
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next nonce and leave at once
        os.write(write, nonces.take())
        os._exit(0)
    os.close(write)
    child = os.read(read, 12)
    os.waitpid(pid, 0)
    os.close(read)
    assert len(child) == 12
    assert child != nonces.take()
