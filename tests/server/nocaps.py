"""``python -m tests.server.nocaps COMMAND...``: run COMMAND with no capability at all.

Permission bits then bind for root as for everyone else, so a read-only file is read-only to
a server the tests run as root. (The same steps as ``tests.history.child --drop-caps``.)
"""

from __future__ import annotations

import os
import sys

from tests.history.child import drop_bounding_set

if __name__ == "__main__":
    if os.geteuid() == 0:
        drop_bounding_set()
    os.execv(sys.argv[1], sys.argv[1:])
