"""The invariants checked after each fault. Each check names what it saw when it fails.

Every utterance accepted is answered exactly once, with its own translation, in order;
no session drops unless the fault took its gateway; the stack is whole again; every
node's slots agree with the jobs it runs; and the scheduler answered utterances sent
after the fault (a phase that sent nothing afterwards proves nothing).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from tools.chaos.probe import ProbeResult
from tools.chaos.slots import SlotReport
from tools.chaos.tally import Recovery, Tally


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def phase_checks(
    t: Tally,
    recovered: Recovery,
    slots: SlotReport,
    probed: ProbeResult,
    dead: list[str],
) -> list[Check]:
    untranslated = t.answered - t.translated
    errors = ", ".join(f"{code} {n}" for code, n in sorted(t.errors.items())) or "none"
    return [
        Check(
            "every accepted utterance answered",
            t.lost == 0 and t.accepted > 0,
            f"{t.lost} of {t.accepted} accepted utterances never answered",
        ),
        Check(
            "answered exactly once",
            t.duplicates == 0 and t.unexpected == 0,
            f"{t.duplicates} duplicate answers, {t.unexpected} answers for utterances never sent",
        ),
        Check(
            "every answer a translation",
            untranslated == 0,
            f"{untranslated} answers not a correct translation: wrong texts {t.wrong}, "
            f"missing/empty {t.missing}, errors: {errors}",
        ),
        Check("answers in order", t.out_of_order == 0, f"{t.out_of_order} answers out of order"),
        Check(
            "sessions kept",
            not t.dropped_elsewhere,
            f"{len(t.dropped_elsewhere)} sessions dropped or not opened on a gateway the "
            f"fault did not touch: {'; '.join(t.dropped_elsewhere[:3])}",
        ),
        Check(
            "messages follow PROTOCOL.md",
            t.protocol_violations == 0,
            f"{t.protocol_violations} off-protocol messages",
        ),
        Check(
            "slots agree with jobs running",
            not slots.disagreeing,
            f"{slots.held} slots held for {slots.running} jobs running; "
            + "; ".join(
                f"{n.node_id}: {len(n.held)} held / {len(n.running)} running"
                for n in slots.disagreeing[:4]
            ),
        ),
        Check("stack whole again", not dead, f"not running: {', '.join(dead) or 'none'}"),
        Check(
            "new sessions served afterwards",
            probed.ok,
            f"{probed.translated} of {probed.sent} utterances of {probed.sessions} new sessions "
            f"translated: {'; '.join(probed.failures[:3]) or '-'}",
        ),
        Check(
            "utterances sent after the fault translated",
            recovered.first_new_answer_s is not None,
            f"{recovered.sent_after} utterances sent after the fault answered, "
            "none of them translated",
        ),
    ]
