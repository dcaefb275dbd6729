"""runs.core.histogram: exact merges, percentiles within 0.1%, serialisation."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from runs.core.histogram import Histogram, bucket_bounds, bucket_key


def _recorded(values_ms: list[float]) -> Histogram:
    h = Histogram()
    for v in values_ms:
        h.record_ms(v)
    return h


def test_merging_equals_recording_everything_into_one() -> None:
    rng = random.Random(7)
    parts = [[rng.lognormvariate(3, 1.2) for _ in range(2000)] for _ in range(5)]
    merged = Histogram.merged(_recorded(p) for p in parts)
    whole = _recorded([v for p in parts for v in p])
    assert merged.to_dict() == whole.to_dict()
    assert merged.percentiles_ms([50, 95, 99]) == whole.percentiles_ms([50, 95, 99])


@pytest.mark.parametrize("q", [50, 90, 95, 99, 99.9])
def test_percentiles_match_numpy_on_lognormal_data_within_a_tenth_of_a_percent(q: float) -> None:
    rng = np.random.default_rng(42)
    # 49,999 samples: q/100 * n is never a whole number here, so numpy's "inverted_cdf"
    # (nearest rank) cannot land one rank off through floating-point rounding.
    values_ms = rng.lognormal(mean=np.log(80), sigma=1.0, size=49_999)
    h = _recorded(values_ms.tolist())
    # The histogram stores whole microseconds; compare with the same values.
    exact = np.percentile(np.round(values_ms * 1000) / 1000, q, method="inverted_cdf")
    assert h.percentile_ms(q) == pytest.approx(exact, rel=1e-3)


def test_1049_ms_reports_1049_not_locusts_1100() -> None:
    h = _recorded([1049.0] * 100 + [1048.6, 1049.4])
    assert h.percentile_ms(50) == pytest.approx(1049.0, rel=1e-3)
    assert h.percentile_ms(99) == pytest.approx(1049.0, rel=1e-3)
    assert h.max_ms == pytest.approx(1049.4)


def test_a_percentile_never_exceeds_the_recorded_maximum() -> None:
    h = _recorded([10.0, 20.0, 1234.567])
    assert h.percentile_ms(100) <= h.max_ms == pytest.approx(1234.567)
    assert h.percentile_ms(100) == pytest.approx(1234.567, rel=1e-3)


def test_bucket_bounds_contain_their_values() -> None:
    for value in [0, 1, 2047, 2048, 2049, 4095, 4096, 1_049_000, 10**9]:
        low, high = bucket_bounds(bucket_key(value))
        assert low <= value <= high
        assert high - low <= max(1, low // 1024)


def test_serialisation_round_trips_through_json() -> None:
    h = _recorded([0.5, 3.2, 3.2, 77.0, 1049.0, 60_000.0])
    again = Histogram.from_dict(json.loads(json.dumps(h.to_dict())))
    assert again.to_dict() == h.to_dict()
    assert again.total == 6
    assert again.mean_ms == pytest.approx(h.mean_ms)
    assert again.percentiles_ms([50, 99]) == h.percentiles_ms([50, 99])


def test_empty_histograms_report_zero_and_merge_as_identity() -> None:
    empty = Histogram()
    assert empty.percentiles_ms([50, 99]) == {50: 0.0, 99: 0.0}
    assert Histogram.from_dict(None).total == 0
    h = _recorded([5.0])
    assert h.merge(Histogram()).to_dict() == _recorded([5.0]).to_dict()
    assert Histogram.merged([None, {}, h.to_dict()]).total == 1


@pytest.mark.parametrize(
    "data",
    [
        {"k": [1, 2], "c": [1]},  # lengths differ
        {"k": [-1], "c": [1]},  # negative key
        {"k": [1], "c": [-3]},  # negative count
        {"k": ["x"], "c": [1]},  # not a number
    ],
)
def test_bad_serialised_input_is_rejected(data: dict) -> None:
    with pytest.raises(ValueError):
        Histogram.from_dict(data)


@pytest.mark.parametrize("q", [0, -5, 100.5])
def test_a_percentile_outside_0_100_is_rejected(q: float) -> None:
    with pytest.raises(ValueError):
        _recorded([1.0]).percentile_us(q)


# -- the compact stored form ----------------------------------------------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from runs.core.histogram import MAX_VALUE_US, decode_many  # noqa: E402

# Latencies from 0 µs to ~3 hours, with repeats (counts above 1) and single samples.
samples = st.lists(
    st.tuples(st.integers(min_value=0, max_value=10**10), st.integers(min_value=1, max_value=5000)),
    max_size=60,
)


def _from_samples(pairs: list[tuple[int, int]]) -> Histogram:
    h = Histogram()
    for value, count in pairs:
        h.record_us(value, count)
    return h


@settings(max_examples=300, deadline=None)
@given(samples)
def test_bytes_round_trip_exactly_with_identical_percentiles(pairs: list[tuple[int, int]]) -> None:
    h = _from_samples(pairs)
    back = Histogram.from_bytes(h.to_bytes())
    assert back.to_dict() == h.to_dict()
    assert back.total == h.total
    qs = [0.1, 50, 90, 95, 99, 99.9, 100]
    assert back.percentiles_ms(qs) == h.percentiles_ms(qs)
    assert (back.mean_ms, back.min_ms, back.max_ms) == (h.mean_ms, h.min_ms, h.max_ms)


@settings(max_examples=200, deadline=None)
@given(st.lists(samples, max_size=12))
def test_bulk_decoding_equals_decoding_one_by_one_and_merging(parts: list[list[tuple[int, int]]]) -> None:
    hists = [_from_samples(p) for p in parts]
    blobs = [h.to_bytes() for h in hists]
    decoded = decode_many(blobs)
    assert [h.to_dict() for h in decoded.histograms()] == [h.to_dict() for h in hists]
    merged = decoded.merged()
    whole = Histogram.merged(hists)
    assert merged.to_dict() == whole.to_dict()
    assert merged.percentiles_ms([50, 95, 99]) == whole.percentiles_ms([50, 95, 99])


@settings(max_examples=100, deadline=None)
@given(samples)
def test_the_old_dict_form_and_the_bytes_load_to_the_same_histogram(pairs: list[tuple[int, int]]) -> None:
    h = _from_samples(pairs)
    assert Histogram.load(h.to_dict()).to_dict() == Histogram.load(h.to_bytes()).to_dict() == h.to_dict()


def test_the_stored_form_is_small_for_a_typical_second() -> None:
    # 20 requests of one endpoint in one second, log-normal around 80 ms: a dozen or two buckets.
    rng = random.Random(3)
    h = _recorded([rng.lognormvariate(np.log(80), 0.4) for _ in range(20)])
    assert len(h.to_bytes()) < 2.5 * len(h.counts) + 16
    assert len(h.to_bytes()) < len(json.dumps(h.to_dict(), separators=(",", ":"))) / 3
    assert Histogram().to_bytes() == b"" and Histogram.from_bytes(b"").total == 0


def test_the_largest_values_round_trip() -> None:
    h = Histogram()
    h.record_us(MAX_VALUE_US, 3)
    h.record_us(0)
    assert Histogram.from_bytes(h.to_bytes()).to_dict() == h.to_dict()
    assert decode_many([h.to_bytes()]).merged().to_dict() == h.to_dict()


@pytest.mark.parametrize(
    "blob, message",
    [
        (b"\x02\x01\x00\x00\x00\x02", "unknown format"),
        (b"\x01\x01\x05\x05\x05", "unknown format or truncated header"),
        (b"\x01\x02\x05\x05\x05\x0a", "fewer keys"),
        (b"\x01\x01\x05\x05\x05\x0b", "counts and keys differ"),
        (b"\x01\x02\x05\x05\x05\x0a\x00", "not strictly ascending"),
        (b"\x01\x01\x05\x05\x05\x8a", "truncated"),
    ],
)
def test_bytes_it_did_not_write_are_rejected_one_by_one_and_in_bulk(blob: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Histogram.from_bytes(blob)
    with pytest.raises(ValueError, match="stored histogram"):
        decode_many([Histogram().to_bytes(), blob])
