"""Cluster mode: the coordination primitives on Redis that let many nodes share one calculation.

Each module holds one primitive, usable and testable alone (no import of the hub or service):

- ``state``: the shared record (encoded ``state`` frame, seq, epoch) and the ``transition``
  script: compare-and-set on seq, fencing check, store and publish in one atomic step.
- ``lease``: the run owner's lease with a growing fencing token.
- ``epoch``: one epoch id per Redis dataset.
- ``presence``: per-node client counts with an expiry, summed.
- ``runs``: the run history, capped, its records written by the ``transition`` script with
  the change that starts or ends each run.
- ``subscriber`` (with the pure ``follower`` and ``record``): published frames in, the same
  bytes out, in order, resyncing from the stored record after any gap or reconnect.
- ``keys``: every key name from one prefix; ``url``: opening clients, redacting passwords.

Built on them: ``node`` (the service a node's connections use), ``owner`` (the run owner
driving stage ends under the lease), ``job_run`` (a real job on the node that started it),
``mirror``/``commit`` (deciding and committing a change), ``tasks`` (stopping them).
"""
