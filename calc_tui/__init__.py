"""calc-tui: a Textual client for the shared calculation served by calc_server."""
