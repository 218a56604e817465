"""The names the watch hub subscribes to and parses back."""

from __future__ import annotations

from lingua_common.keys import Keys


def test_a_job_id_comes_back_out_of_its_event_stream_name() -> None:
    keys = Keys("lingua:v1")
    assert keys.job_id_of_events(keys.job_events("sess:3:en")) == "sess:3:en"
    assert keys.job_id_of_events(keys.job("j1")) is None
    assert keys.job_id_of_events(Keys("other:v1").job_events("j1")) is None


def test_the_pattern_names_every_job_stream_and_escapes_the_prefix() -> None:
    assert Keys("lingua:v1").job_events_pattern() == "lingua:v1:{job:*}:events"
    assert Keys("a*b?[c]:v1").job_events_pattern() == r"a\*b\?\[c\]:v1:{job:*}:events"
