"""The I/O shell around consensus, contracts and storage.

The shell's rule: **a peer's or client's fault is never our fault.**

* Whatever arrives from outside — an HTTP request, a link frame, a consensus
  message, a gossiped tx, a catch-up answer — and fails a check is dropped and
  counted (``node.faults.Faults``, ``skillchain_dropped_total``) and, when the
  sender is a validator, recorded against it. It never raises out of the
  shell, never stops the node and never loses anything already accepted.
* A node stops itself (exit 70) only for its own faults: a broken disk, a
  failed invariant, a bug. A certified block that we cannot apply is only our
  fault once its body has been checked against its header.
* Every input has a budget: connections (total and per address), pending
  handshakes, bytes per frame and per request, queue bytes per peer, work per
  peer per second, evidence entries. A budget exceeded is a dropped input.
"""
