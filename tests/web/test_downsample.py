"""Downsampling keeps extremes: min, max and last of each bucket, first and last point."""

from __future__ import annotations

import math

import numpy as np
import pytest

from expbook.web.downsample import downsample_indices

from .conftest import spike_series


def test_short_series_is_returned_whole() -> None:
    assert downsample_indices([3.0, 1.0, 2.0], 10).tolist() == [0, 1, 2]
    assert downsample_indices([], 10).tolist() == []
    assert downsample_indices(np.arange(2000.0), 2000).tolist() == list(range(2000))


def test_a_spike_in_a_million_points_survives() -> None:
    v, up, down = spike_series()
    idx = downsample_indices(v, 2000)
    assert len(idx) <= 2000
    assert len(idx) > 1000  # it does use the budget
    assert up in idx and down in idx
    assert v[idx].max() == v.max() == 50.0
    assert v[idx].min() == v.min() == -50.0
    assert idx[0] == 0 and idx[-1] == len(v) - 1
    assert np.all(np.diff(idx) > 0)  # sorted, no duplicates


@pytest.mark.parametrize("n", [4, 7, 100, 1001, 12345])
@pytest.mark.parametrize("max_points", [4, 5, 50, 300])
def test_bounds_and_extremes_on_random_series(n: int, max_points: int) -> None:
    rng = np.random.default_rng(n * 1000 + max_points)
    v = rng.standard_cauchy(n)
    idx = downsample_indices(v, max_points)
    assert len(idx) <= max_points or (n <= max_points and len(idx) == n)
    assert idx[0] == 0 and idx[-1] == n - 1
    assert np.all(np.diff(idx) > 0)
    assert v[idx].max() == v.max() and v[idx].min() == v.min()


def test_every_bucket_keeps_its_own_extremes() -> None:
    # a spike in each of the 10 buckets: all 10 survive
    v = np.zeros(10_000)
    spikes = [i * 1000 + 500 for i in range(10)]
    v[spikes] = np.arange(1, 11)
    idx = downsample_indices(v, 31)  # (31 - 1) // 3 = 10 buckets
    assert set(spikes) <= set(idx.tolist())


def test_nan_is_ignored_for_extremes_and_infinity_counts() -> None:
    v = np.linspace(0, 1, 10_000)
    v[100:3000] = math.nan
    v[5000] = math.inf
    v[7000] = -7.0
    idx = downsample_indices(v, 30)
    assert 5000 in idx and 7000 in idx
    assert len(idx) <= 30
    all_nan = np.full(1000, math.nan)
    idx = downsample_indices(all_nan, 30)
    assert idx[0] == 0 and idx[-1] == 999 and len(idx) <= 30


def test_max_points_must_leave_room_for_first_min_max_last() -> None:
    with pytest.raises(ValueError):
        downsample_indices([1.0, 2.0], 3)
