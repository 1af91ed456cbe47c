"""Cluster mode: coordination primitives on Redis (state, lease, epoch, presence, history)."""
