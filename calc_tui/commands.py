"""The app's commands in the command palette (ctrl+p): each runs the action its key runs."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("Start", "Start a calculation (s)", "start"),
    ("Cancel", "Cancel the running calculation (c)", "cancel"),
    ("Reconnect now", "Try to connect again at once (r)", "reconnect"),
    ("Show events", "Switch to the Events log (e)", "show_view('events')"),
    ("Show output", "Switch to the job's Output (o)", "show_view('output')"),
    ("Show history", "Switch to the past runs (h)", "show_view('history')"),
    ("Show who is connected", "Switch to the list of connected clients (w)", "show_view('who')"),
    ("Copy calculation id", "Copy the shown calculation's id to the clipboard", "copy_id"),
    ("Help", "Keys and what the states mean (? or F1)", "help"),
    ("Quit", "Leave calc-tui (q, ctrl+q, ctrl+c)", "quit"),
)
"""(name, help, action) of each command, in the order the palette lists them."""


class CalcCommands(Provider):
    """Offers the commands that can run now; a disabled one (e.g. Start while running) is left
    out rather than shown and refused."""

    def _available(self) -> list[tuple[str, str, str]]:
        app = self.app
        return [
            (name, text, action)
            for name, text, action in COMMANDS
            if app.check_action(action.partition("(")[0], ()) is True
        ]

    async def discover(self) -> Hits:
        for name, text, action in self._available():
            yield DiscoveryHit(name, partial(self.app.run_action, action), help=text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, text, action in self._available():
            score = matcher.match(name)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(name), partial(self.app.run_action, action), help=text
                )
