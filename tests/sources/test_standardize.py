"""Standardizing other datasets' tiles: resizing, windows and their names, the percentile stretch."""

from __future__ import annotations

import numpy as np
import pytest

from landslide_core.sources.standardize import (
    Stretch,
    parse_window_name,
    resize_pair,
    sample_indices,
    window_name,
    windows,
)


def test_resize_keeps_masks_binary_and_follows_the_landslide():
    image = np.zeros((3, 128, 128), np.uint8)
    mask = np.zeros((1, 128, 128), np.uint8)
    mask[0, 32:64, 64:96] = 1
    image[:, 32:64, 64:96] = 200
    big_image, big_mask = resize_pair(image, mask, 512)
    assert big_image.shape == (3, 512, 512) and big_image.dtype == np.uint8
    assert big_mask.shape == (1, 512, 512) and set(np.unique(big_mask)) == {0, 1}
    assert big_mask[0, 128:256, 256:384].all() and big_mask.sum() == 128 * 128
    assert big_image[:, 140:240, 270:370].min() == 200 and big_image[:, :100, :100].max() == 0
    small_image, small_mask = resize_pair(np.full((3, 1181, 1181), 7, np.uint8), np.ones((1, 1181, 1181), np.uint8))
    assert small_image.shape == (3, 512, 512) and (small_image == 7).all() and small_mask.all()


def test_a_standard_tile_is_returned_as_it_is():
    image, mask = np.ones((3, 512, 512), np.uint8), np.zeros((1, 512, 512), np.uint8)
    assert resize_pair(image, mask)[0] is image


def test_windows_cover_the_image_with_the_last_flush_with_the_edge():
    assert windows(1181, 1181, 512) == [(r, c) for r in (0, 512, 669) for c in (0, 512, 669)]
    assert windows(512, 1024, 512) == [(0, 0), (0, 512)]
    with pytest.raises(ValueError, match="smaller than one 512"):
        windows(300, 900, 512)


def test_window_names_round_trip_and_whole_image_names_are_not_windows():
    name = window_name("img_r7", 669, 0)
    assert parse_window_name(name) == ("img_r7", 669, 0)
    assert parse_window_name("Landslide001") is None


def test_the_sample_is_seeded_and_sorted():
    assert sample_indices(5, 10) == [0, 1, 2, 3, 4]
    first, again = sample_indices(1000, 8, seed=3), sample_indices(1000, 8, seed=3)
    assert first == again == sorted(first) and len(set(first)) == 8
    assert sample_indices(1000, 8, seed=4) != first


def test_the_stretch_maps_percentiles_to_0_and_255_per_band_and_nan_to_0():
    rng = np.random.default_rng(0)
    samples = [np.stack([rng.normal(-1, 0.5, (16, 16)), rng.uniform(10, 20, (16, 16))]) for _ in range(4)]
    samples[0][0, 0, 0] = np.nan
    stretch = Stretch.from_samples(samples, percentiles=(0, 100))
    values = np.concatenate([s.reshape(2, -1) for s in samples], axis=1)
    assert stretch.low[1] == pytest.approx(values[1].min()) and stretch.high[1] == pytest.approx(values[1].max())
    out = stretch.apply(samples[0])
    assert out.dtype == np.uint8 and out[0, 0, 0] == 0
    flat = np.concatenate([stretch.apply(s).reshape(2, -1) for s in samples], axis=1)
    assert flat[1].min() == 0 and flat[1].max() == 255
    assert stretch.to_dict()["percentiles"] == [0.0, 100.0]


def test_a_constant_band_still_stretches_and_an_empty_one_is_refused():
    stretch = Stretch.from_samples([np.full((1, 4, 4), 3.0)])
    assert stretch.high[0] == stretch.low[0] + 1
    with pytest.raises(ValueError, match="no finite value"):
        Stretch.from_samples([np.full((1, 4, 4), np.nan)])
    with pytest.raises(ValueError, match="no samples"):
        Stretch.from_samples([])


def test_a_training_stretch_without_finite_values_names_where_the_samples_came_from(tmp_path):
    from landslide_core.errors import ImageFormatError
    from landslide_core.sources.standardize import training_stretch

    with pytest.raises(ImageFormatError, match=r"trainX.npy: the rows sampled for the uint8 stretch have no finite"):
        training_stretch([np.full((3, 4, 4), np.nan)], tmp_path / "trainX.npy", "the rows sampled", "re-download it")
    assert training_stretch([np.arange(100.0).reshape(1, 10, 10)], tmp_path, "x", "y").low == (pytest.approx(1.98),)
