"""Quality-control scores and flags on tiles whose defects are known by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from landslide_core.building.qc import (
    CRITERIA,
    QCThresholds,
    cloud_fraction,
    cloud_mask,
    fill_fraction,
    fill_mask,
    flag,
    label_share,
    score_tile,
    seam_score,
)
from landslide_core.sources.cas.demo import generate_tile

SIZE = 512
THRESHOLDS = QCThresholds()


def vegetated(index: int = 0, subdataset: str = "hokkaido") -> np.ndarray:
    """A synthetic satellite tile of forest and scars, without cloud or fill (checked)."""
    tile = generate_tile(0, subdataset, index)
    assert tile.cloud_cover == 0
    return tile.image


def first_pixels(share: float) -> tuple[np.ndarray, int]:
    """A mask of the first ``share`` of the tile's pixels in row order (full rows, then part of one)."""
    count = round(share * SIZE * SIZE)
    mask = np.zeros(SIZE * SIZE, bool)
    mask[:count] = True
    return mask.reshape(SIZE, SIZE), count


def painted(image: np.ndarray, where: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    out = image.copy()
    out[:, where] = np.array(colour, np.uint8)[:, None]
    return out


def frame(**scores: float) -> pd.DataFrame:
    row = {"fill_fraction": 0.0, "label_share": 0.05, "cloud_fraction": 0.0, "seam_score": 1.0, **scores}
    return pd.DataFrame([row])


# --------------------------------------------------------------------------- fill


@pytest.mark.parametrize("colour", [(255, 255, 255), (0, 0, 0), (128, 128, 128)], ids=["white", "black", "grey"])
@pytest.mark.parametrize(("share", "flagged"), [(0.29, False), (0.31, True)])
def test_fill_on_both_sides_of_30_percent(colour: tuple[int, int, int], share: float, flagged: bool) -> None:
    region, count = first_pixels(share)
    image = painted(vegetated(), region, colour)
    measured = fill_fraction(image)
    assert measured == pytest.approx(count / SIZE**2, abs=2e-4)
    assert flag(frame(fill_fraction=measured))["flag_fill"].item() is flagged


def test_fill_in_a_corner_triangle_of_a_fixed_value() -> None:
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    corner = x + y < 400  # a scene corner outside the footprint: 30.5 % of the tile
    image = painted(vegetated(1), corner, (37, 52, 61))
    assert fill_fraction(image) == pytest.approx(corner.mean(), abs=2e-4)
    assert np.array_equal(fill_mask(image), corner)


@pytest.mark.parametrize(("share", "flagged"), [(0.29, False), (0.31, True)])
def test_nodata_through_valid(share: float, flagged: bool) -> None:
    invalid, count = first_pixels(share)
    image = vegetated(4)  # the pixels keep their content: only `valid` says they are nodata
    measured = fill_fraction(image, ~invalid)
    assert measured == count / SIZE**2
    assert flag(frame(fill_fraction=measured))["flag_fill"].item() is flagged


def test_clipped_shadows_and_highlights_are_content_not_fill() -> None:
    """Half the tile pure black or pure white, reached by fading (as clipping does), is not fill."""
    image = vegetated(5).astype(np.float32)
    y = np.arange(SIZE, dtype=np.float32)[:, None]
    darker = image * np.clip((y - 200) / 120, 0, 1)  # rows above 200 clip to black, then a fade
    brighter = image * np.clip(1 + (y - 300) / 20, 1, 20)  # rows below ~330 saturate to white
    for picture in (darker, brighter):
        tile = np.clip(picture, 0, 255).astype(np.uint8)
        extreme = (tile == 0).all(axis=0) | (tile == 255).all(axis=0)
        assert extreme.mean() > 0.3
        assert fill_fraction(tile) == 0


def test_scattered_white_pixels_and_an_inner_white_patch_are_not_fill() -> None:
    rng = np.random.default_rng(0)
    speckle = rng.random((SIZE, SIZE)) < 0.05
    patch = np.zeros((SIZE, SIZE), bool)
    patch[100:400, 100:400] = True  # 34 % of the tile, hard-edged, but away from the border
    for where in (speckle, patch):
        assert fill_fraction(painted(vegetated(), where, (255, 255, 255))) == 0


def test_fill_needs_a_valid_mask_of_the_tile_shape() -> None:
    with pytest.raises(ValueError, match="valid has shape"):
        fill_fraction(vegetated(), np.ones((10, 10), bool))


# --------------------------------------------------------------------------- label


@pytest.mark.parametrize(("pixels", "flagged"), [(236, True), (289, False)])
def test_label_share_on_both_sides_of_0_1_percent(pixels: int, flagged: bool) -> None:
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask.flat[np.random.default_rng(1).choice(SIZE * SIZE, pixels, replace=False)] = 1
    share = label_share(mask)
    assert share == pixels / SIZE**2  # 0.090 % and 0.110 %
    assert flag(frame(label_share=share))["flag_label"].item() is flagged


def test_no_mask_gives_nan_and_a_reason_never_a_flag() -> None:
    scores = score_tile(vegetated())
    assert np.isnan(scores["label_share"])
    flags = flag(pd.DataFrame([scores]))
    assert not flags["flag_label"].item()
    assert flags["reasons"].item() == "label: needs a mask"


# --------------------------------------------------------------------------- cloud


def cloud_bank(image: np.ndarray, share: float) -> np.ndarray:
    """A bright, white, smooth cloud bank over the left ``share`` of the tile, with a soft 6-px edge."""
    x = np.arange(SIZE, dtype=np.float32)[None, :]
    alpha = np.clip((share * SIZE - x) / 6 + 0.5, 0, 1)
    rng = np.random.default_rng(2)
    body = 232 + 10 * ndimage.gaussian_filter(rng.standard_normal((SIZE, SIZE)), 12) / 0.025
    cloud = np.stack([body, body, body + 4])
    return np.clip(image * (1 - alpha) + cloud * alpha, 0, 255).astype(np.uint8)


@pytest.mark.parametrize(("share", "flagged"), [(0.75, False), (0.85, True)])
def test_cloud_bank_on_both_sides_of_80_percent(share: float, flagged: bool) -> None:
    tile = cloud_bank(vegetated(), share)
    measured = cloud_fraction(tile)
    assert measured == pytest.approx(share, abs=0.01)
    assert flag(frame(cloud_fraction=measured))["flag_cloud"].item() is flagged


def test_cloud_is_a_share_of_the_content_and_uav_tiles_are_exempt() -> None:
    tile = cloud_bank(vegetated(), 0.6)
    invalid = np.zeros((SIZE, SIZE), bool)
    invalid[:, SIZE // 2:] = True  # the right half (cloud-free beyond 60 %) is nodata: all content is cloud
    assert cloud_fraction(tile, ~invalid) == pytest.approx(1.0, abs=0.01)
    flags = flag(pd.concat([frame(cloud_fraction=0.9).assign(group=g) for g in ("SAT", "UAV")]))
    assert flags["flag_cloud"].tolist() == [True, False]


def test_failure_mode_a_flat_bright_roof_counts_as_cloud() -> None:
    """Documented failure: RGB cannot tell a flat light-grey roof (or snow, or bare soil) from cloud."""
    roof = np.zeros((SIZE, SIZE), bool)
    roof[200:300, 150:350] = True
    tile = vegetated().astype(np.int16)
    tile[:, roof] = 205 + np.random.default_rng(3).integers(-3, 4, (3, int(roof.sum())))
    tile = tile.astype(np.uint8)
    inside = ndimage.binary_erosion(roof, iterations=2)  # the 5×5 texture window straddles the roof's edge
    assert cloud_mask(tile)[inside].all()
    assert cloud_fraction(tile) == pytest.approx(roof.mean(), abs=0.01)


def test_failure_mode_thin_haze_is_missed() -> None:
    """Documented failure: a veil of 40 % white over the whole tile is mostly neither bright nor smooth enough."""
    tile = np.clip(vegetated() * 0.6 + 255 * 0.4, 0, 255).astype(np.uint8)
    assert cloud_fraction(tile) < 0.1


# --------------------------------------------------------------------------- seam


def two_halves(image: np.ndarray, kind: str, axis: int) -> np.ndarray:
    """The image with its second half (columns for axis 1, rows for axis 0) changed as a second acquisition."""
    out = image.astype(np.float32)
    half = (slice(None), slice(None), slice(SIZE // 2, None)) if axis else (slice(None), slice(SIZE // 2, None))
    if kind == "brightness":
        out[half] *= 0.6
    elif kind == "colour":
        out[(0, *half[1:])] += 16
        out[(2, *half[1:])] -= 16
    else:  # texture: sensor grain on the whole tile, smoothed away on one half
        out += np.random.default_rng(4).normal(0, 12, out.shape)
        out[half] = ndimage.gaussian_filter(out, (0, 2, 2))[half]
    return np.clip(out, 0, 255).round().astype(np.uint8)


@pytest.mark.parametrize("kind", ["brightness", "colour", "texture"])
@pytest.mark.parametrize("axis", [0, 1], ids=["horizontal", "vertical"])
def test_a_seam_between_two_halves_is_flagged_and_the_same_tile_without_it_is_not(kind: str, axis: int) -> None:
    for index in (0, 1):
        clean = vegetated(index, "palu")
        if kind == "texture":  # the same grain without the smoothing
            clean = np.clip(clean + np.random.default_rng(4).normal(0, 12, clean.shape), 0, 255).round().astype(np.uint8)
        assert seam_score(clean) < THRESHOLDS.seam / 2
        assert seam_score(two_halves(vegetated(index, "palu"), kind, axis)) > THRESHOLDS.seam


def test_a_straight_fill_edge_is_not_a_seam() -> None:
    clean = vegetated(0, "palu")
    edge = np.zeros((SIZE, SIZE), bool)
    edge[:, :150] = True  # white fill over the left 150 columns: a perfectly straight edge
    for image, valid in ((painted(clean, edge, (255, 255, 255)), None), (clean, ~edge)):
        assert seam_score(image, valid) < THRESHOLDS.seam / 2


def test_failure_mode_a_diagonal_seam_is_missed() -> None:
    """Documented failure: the strips are axis-aligned, so a 45° seam is not seen."""
    image = vegetated(0, "palu").astype(np.int16)
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    beyond = x > y
    image[0, beyond] += 16
    image[2, beyond] -= 16
    tile = np.clip(image, 0, 255).astype(np.uint8)
    assert seam_score(two_halves(vegetated(0, "palu"), "colour", 1)) > THRESHOLDS.seam
    assert seam_score(tile) < THRESHOLDS.seam


def test_a_tile_of_fill_only_has_no_cloud_or_seam_score() -> None:
    scores = score_tile(np.full((3, SIZE, SIZE), 255, np.uint8))
    assert scores["fill_fraction"] == 1
    assert np.isnan(scores["cloud_fraction"]) and np.isnan(scores["seam_score"])
    flags = flag(pd.DataFrame([scores]))
    assert flags["reasons"].item() == ("fill 100 % > 30 %; label: needs a mask; cloud: no image content; "
                                       "seam: no image content")


# --------------------------------------------------------------------------- score_tile and flag


def test_score_tile_keys_and_input_checks() -> None:
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[:64, :64] = 1
    scores = score_tile(vegetated(), mask)
    assert list(scores) == ["fill_fraction", "label_share", "cloud_fraction", "seam_score"]
    assert scores["label_share"] == 64 * 64 / SIZE**2
    with pytest.raises(ValueError, match="uint8 RGB"):
        score_tile(vegetated().astype(np.float32))
    with pytest.raises(ValueError, match="uint8 RGB"):
        score_tile(vegetated()[:2])


def test_flag_columns_and_reasons() -> None:
    scores = pd.DataFrame([
        {"name": "a", "fill_fraction": 0.42, "label_share": 0.2, "cloud_fraction": 0.91, "seam_score": 2.0},
        {"name": "b", "fill_fraction": 0.0, "label_share": 0.0004, "cloud_fraction": 0.1, "seam_score": 12.34},
        {"name": "c", "fill_fraction": 0.3, "label_share": 0.001, "cloud_fraction": 0.8, "seam_score": 8.0},
    ])
    flags = flag(scores)
    assert list(flags.columns) == [*scores.columns, *(f"flag_{r}" for r in CRITERIA), "flagged", "reasons"]
    assert flags["reasons"].tolist() == ["fill 42 % > 30 %; cloud 91 % > 80 %",
                                         "label 0.04 % < 0.1 %; seam 12.3 > 8", ""]
    assert flags["flagged"].tolist() == [True, True, False]  # exactly at a threshold is not past it
    strict = flag(scores, QCThresholds(fill=0.25, label=0.002, cloud=0.5, seam=1.5))
    assert strict[[f"flag_{r}" for r in CRITERIA]].sum().tolist() == [2, 2, 2, 3]
    with pytest.raises(ValueError, match="seam_score"):
        flag(scores.drop(columns="seam_score"))


def test_failure_mode_white_fill_beside_cloud_counts_as_content() -> None:
    """Documented failure: the fill's edge is soft where near-white cloud meets it."""
    image = vegetated()
    image[:, :, :200] = 245  # a bright, flat cloud over the left part ...
    image[:, :, :180] = 255  # ... and white fill at the tile edge right beside it
    assert fill_fraction(image) == 0


def test_failure_mode_a_clipped_cloud_cut_by_a_seam_counts_as_fill() -> None:
    """Documented failure: a saturated region whose only edge in the tile is hard looks like fill."""
    image = vegetated()
    image[:, :, :200] = 254  # clipped cloud up to a seam at column 200
    assert fill_fraction(image) == pytest.approx(200 / SIZE)
