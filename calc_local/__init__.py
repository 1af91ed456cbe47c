"""Local-machine policy shared by server and clients: token files, defaults, option types.

Also loopback hosts, the client-name rule, calc's directories and the installed version.

What the server and the clients must agree on about *this machine* (where a token file lives,
which hosts count as local, the default port and URL, how a port or a number of seconds is
parsed) and that is not part of the wire. Standard library and ``platformdirs`` only: no I/O
framework, no protocol, so every package may import it.
"""
