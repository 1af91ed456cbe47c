"""Case 7: the pure Calculation keeps its invariants under any order of commands and time.

A hypothesis state machine plays several clients sending start, cancel (with no id, the running
id, or a stale one) and sync, while an injected clock moves by amounts that hit stage
boundaries exactly as often as between them. After every step it checks the promises of the
server issue against a small model of what should have happened.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from calc_server.calculation import Calculation, Outcome
from protocol import STAGES, Phase, State

STAGE = 1.0
CLIENTS = ("alice", "bob", "carol")
"""The simulated clients; ``started_by``/``ended_by`` must name the one that acted."""

_NEXT = {
    Phase.STARTING: Phase.IN_PROGRESS,
    Phase.IN_PROGRESS: Phase.ALMOST_DONE,
    Phase.ALMOST_DONE: Phase.SUCCESS,
}

clients = st.sampled_from(CLIENTS)
steps = st.sampled_from([0.0, STAGE / 2, STAGE, 2 * STAGE, 3 * STAGE, 10 * STAGE]) | st.floats(
    min_value=0.0, max_value=4 * STAGE, allow_nan=False
)


class CalculationMachine(RuleBasedStateMachine):
    """Commands from several clients and a moving clock against one Calculation."""

    def __init__(self) -> None:
        super().__init__()
        ids = iter(range(1, 10_000))
        self.calc = Calculation(epoch="e", stage_duration=STAGE, new_id=lambda: f"calc{next(ids)}")
        self.now = 0.0
        self.history: list[State] = []
        """Every change the calculation emitted, in order."""
        self.sent: dict[str, list[str]] = {c: [] for c in CLIENTS}
        self.answers: dict[str, list[Outcome]] = {c: [] for c in CLIENTS}
        self.started_at: float | None = None
        self.past_ids: list[str] = []

    # --- the model -----------------------------------------------------------------------

    def expected_stage(self) -> int | None:
        """How many stage deadlines have passed since the running calculation started."""
        if self.started_at is None:
            return None
        started = self.started_at
        return sum(1 for k in range(1, STAGES + 1) if self.now >= started + k * STAGE)

    def model_running(self) -> bool:
        stage = self.expected_stage()
        return stage is not None and stage < STAGES

    def record(self, client: str, command: str, outcome: Outcome) -> None:
        self.sent[client].append(command)
        self.answers[client].append(outcome)
        self.check_changes(outcome.changes)

    def check_changes(self, changes: tuple[State, ...] | list[State]) -> None:
        for change in changes:
            previous = self.history[-1] if self.history else None
            assert change.seq == (previous.seq if previous else 0) + 1, "seq +1 per change"
            if previous is not None:
                assert_legal(previous, change)
            self.history.append(change)

    # --- rules ---------------------------------------------------------------------------

    @rule(client=clients)
    def start(self, client: str) -> None:
        was_running = self.model_running()
        previous_id = self.calc.calculation_id
        outcome = self.calc.start(self.now, client)
        self.record(client, "start", outcome)
        if was_running:
            assert (outcome.accepted, outcome.reason) == (False, "already_running")
            assert self.calc.calculation_id == previous_id, "no second calculation"
        else:
            assert (outcome.accepted, outcome.reason) == (True, None)
            assert outcome.changes[-1].state is Phase.STARTING
            assert outcome.changes[-1].started_by == client
            if previous_id is not None:
                self.past_ids.append(previous_id)
            self.started_at = self.now

    @rule(client=clients, which=st.sampled_from(["none", "running", "stale"]))
    def cancel(self, client: str, which: str) -> None:
        was_running = self.model_running()
        named = {
            "none": None,
            "running": self.calc.calculation_id,
            "stale": self.past_ids[-1] if self.past_ids else "never-existed",
        }[which]
        outcome = self.calc.cancel(self.now, client, named)
        self.record(client, "cancel", outcome)
        if not was_running:
            assert (outcome.accepted, outcome.reason) == (False, "not_running")
        elif which == "stale":
            assert (outcome.accepted, outcome.reason) == (False, "stale_calculation")
        else:
            assert (outcome.accepted, outcome.reason) == (True, None)
            final = outcome.changes[-1]
            assert (final.state, final.ended_by) == (Phase.CANCELED, client)
            self.started_at = None

    @rule(client=clients)
    def sync(self, client: str) -> None:
        before = self.calc.seq
        snapshot = self.calc.snapshot(self.now)
        self.sent[client].append("sync")
        self.answers[client].append(Outcome(True, None, seq=before))
        assert snapshot.seq == before == self.calc.seq, "a sync changes nothing"
        assert 0.0 <= snapshot.stage_elapsed <= STAGE

    @rule(dt=steps)
    def time_passes(self, dt: float) -> None:
        self.now += dt

    @precondition(lambda self: self.calc.deadline() is not None)
    @rule()
    def timer_fires(self) -> None:
        """The server's timer: ``advance`` at (or just after) the armed deadline."""
        deadline = self.calc.deadline()
        assert deadline is not None
        self.now = max(self.now, deadline)
        self.check_changes(self.calc.advance(self.now))

    @rule()
    def timer_fires_early(self) -> None:
        """A timer that fires before its deadline must change nothing."""
        deadline = self.calc.deadline()
        if deadline is not None and self.now < deadline:
            assert self.calc.advance(self.now) == []

    # --- invariants ----------------------------------------------------------------------

    @invariant()
    def phase_matches_elapsed_time(self) -> None:
        # Transitions are applied lazily (at the next command or timer), so catch up first,
        # as the server's timer would, and then the phase must be exactly what time says.
        self.check_changes(self.calc.advance(self.now))
        stage = self.expected_stage()
        if stage is None:
            assert not self.calc.phase.running
        elif stage < STAGES:
            assert self.calc.phase is (Phase.STARTING, Phase.IN_PROGRESS, Phase.ALMOST_DONE)[stage]
        else:
            assert self.calc.phase is Phase.SUCCESS

    @invariant()
    def at_most_one_calculation_runs(self) -> None:
        running = {s.calculation_id for s in self.history if s.state.running}
        ended = {s.calculation_id for s in self.history if s.state.terminal}
        assert len(running - ended) <= 1
        if self.calc.phase.running:
            assert running - ended == {self.calc.calculation_id}

    @invariant()
    def every_command_got_exactly_one_answer(self) -> None:
        for client in CLIENTS:
            assert len(self.sent[client]) == len(self.answers[client])

    @invariant()
    def seq_counts_the_changes(self) -> None:
        assert self.calc.seq == len(self.history)
        assert self.calc.snapshot(self.now).seq == self.calc.seq


def assert_legal(previous: State, change: State) -> None:
    """Only these moves exist: a stage to the next or to CANCELED, and a new start."""
    if change.state is Phase.STARTING:
        assert not previous.state.running, "a start only from IDLE or a terminal state"
        assert change.calculation_id != previous.calculation_id
        return
    assert previous.state.running, f"{previous.state} is left only by start"
    assert change.calculation_id == previous.calculation_id
    assert change.state in (_NEXT[previous.state], Phase.CANCELED), (previous.state, change.state)


CalculationMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestCalculationInvariants = CalculationMachine.TestCase
