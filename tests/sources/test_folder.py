"""The generic image-folder source on generated folders: pairing by pattern, mask encodings, resize and tile fits."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from landslide_core.cli import main
from landslide_core.data.splits import make_split, read_manifest, write_manifest
from landslide_core.data.torch_dataset import TileDataset
from landslide_core.data.validate import validate_root
from landslide_core.errors import (
    ConfigError,
    DatasetNotFoundError,
    ImageFormatError,
    MaskValueError,
    MissingPartnerError,
    NoDirectDownloadError,
    TileSizeError,
    UnknownSubDatasetError,
    UnreadableTileError,
)
from landslide_core.io.raster import read_raster, write_raster
from landslide_core.sources import IMAGENET, FolderSource, get_source
from landslide_core.sources.folder import describe_values, parse_colour, value_shares, write_stand_in
from landslide_core.sources.standardize import resize_mask, window_name

RED, YELLOW = np.array([255, 0, 0], np.uint8), np.array([255, 255, 0], np.uint8)


def picture(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """An RGB image whose red channel is high exactly where its 0/1 mask is 1 (blocks of 8 px)."""
    mask = (rng.random((height // 8 + 1, width // 8 + 1)) < 0.3).repeat(8, 0).repeat(8, 1)[:height, :width]
    image = rng.integers(0, 100, (3, height, width), dtype=np.uint8)
    image[0][mask] += 150
    return image, mask.astype(np.uint8)


def coloured(mask: np.ndarray, colour: np.ndarray = RED) -> np.ndarray:
    return np.where(mask[None] > 0, colour.reshape(3, 1, 1), 0).astype(np.uint8)


def write_png(path: Path, array: np.ndarray) -> Path:
    return write_raster(path, array, driver="PNG")


@pytest.fixture
def folder(tmp_path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``images/img_<id>.png`` and RGB masks ``masks/<id>_mask.png`` (red = landslide) of sizes other than 512."""
    rng = np.random.default_rng(0)
    pairs = {}
    for id_, (h, w) in {"001": (300, 420), "002": (700, 1100), "003": (512, 512)}.items():
        image, mask = picture(rng, h, w)
        write_png(tmp_path / "images" / f"img_{id_}.png", image)
        write_png(tmp_path / "masks" / f"{id_}_mask.png", coloured(mask))
        pairs[id_] = (image, mask)
    return pairs


def red_source(**options: object) -> FolderSource:
    return FolderSource(image_pattern="img_{id}", mask_pattern="{id}_mask", mask_colour="#ff0000", **options)


def test_images_and_masks_pair_by_the_id_in_differing_names(tmp_path, folder):
    write_png(tmp_path / "images" / "img_009.png", np.zeros((3, 64, 64), np.uint8))  # no mask
    write_png(tmp_path / "masks" / "010_mask.PNG", np.zeros((3, 64, 64), np.uint8))  # no image, upper-case ending
    write_png(tmp_path / "images" / "overview.png", np.zeros((3, 64, 64), np.uint8))  # matches no pattern
    (tmp_path / "images" / "README.txt").write_text("not an image")
    found = red_source().scan(tmp_path)
    assert [r.name for r in found.records] == ["001", "002", "003"]
    first = found.records[0]
    assert (first.image, first.mask) == (tmp_path / "images" / "img_001.png", tmp_path / "masks" / "001_mask.png")
    assert (first.subdataset, first.group, first.source, first.split) == ("folder", "all", "image folder", None)
    assert found.ignored == [tmp_path / "images" / "overview.png"]
    assert [type(p) for p in found.problems] == [MissingPartnerError, MissingPartnerError]
    assert [p.path.name for p in found.problems] == ["img_009.png", "010_mask.PNG"]
    assert "009_mask" in str(found.problems[0]) and "img_010" in str(found.problems[1])


def test_colour_masks_of_any_size_become_standard_tiles_with_the_landslide_where_the_file_has_it(tmp_path, folder):
    source = red_source()
    for record in source.scan(tmp_path).records:
        image, mask = source.read_tile(record)
        assert image.shape == (3, 512, 512) and image.dtype == np.uint8
        assert mask.shape == (1, 512, 512) and mask.dtype == np.uint8 and set(np.unique(mask)) == {0, 1}
        expected = resize_mask(folder[record.name][1][None], 512)
        assert np.array_equal(mask, expected)
        # the landslide pixels are the bright red ones of the image, after the resize too
        assert image[0][mask[0] == 1].mean() > 150 > image[0][mask[0] == 0].mean()
    image, mask = source.load(source.scan(tmp_path).records[0])
    assert image.shape == (3, 300, 420) and np.array_equal(mask[0], folder["001"][1])


def test_a_yellow_mask_read_with_the_colour_name(tmp_path):
    image, mask = picture(np.random.default_rng(1), 128, 96)
    write_png(tmp_path / "images" / "a.png", image)
    write_png(tmp_path / "masks" / "a.png", coloured(mask, YELLOW))
    source = FolderSource(mask_colour="yellow")
    assert np.array_equal(source.load(source.scan(tmp_path).records[0])[1][0], mask)


def test_grey_and_four_band_images_become_rgb_and_other_types_fail(tmp_path):
    rng = np.random.default_rng(2)
    grey, mask = rng.integers(0, 255, (1, 64, 80), dtype=np.uint8), np.zeros((1, 64, 80), np.uint8)
    write_png(tmp_path / "images" / "g.png", grey)
    write_png(tmp_path / "masks" / "g.png", mask)
    rgba = rng.integers(0, 255, (4, 64, 80), dtype=np.uint8)
    write_png(tmp_path / "images" / "h.png", rgba)
    write_png(tmp_path / "masks" / "h.png", mask)
    source = FolderSource()
    records = source.scan(tmp_path).records
    assert np.array_equal(source.load(records[0])[0], np.repeat(grey, 3, axis=0))
    assert np.array_equal(source.load(records[1])[0], rgba[:3])
    write_raster(tmp_path / "images" / "f.tif", rng.random((3, 64, 80)).astype(np.float32))
    write_png(tmp_path / "masks" / "f.png", mask)
    with pytest.raises(ImageFormatError, match="float32.*8-bit") as error:
        source.scan(tmp_path)  # f.tif is now the first image
    assert error.value.path == tmp_path / "images" / "f.tif" and "gdal_translate -ot Byte" in str(error.value)


def test_single_band_masks_by_value_or_by_nonzero(tmp_path):
    image, mask = picture(np.random.default_rng(3), 64, 64)
    classes = mask * 2 + (np.arange(64)[None] % 2 == 0)  # 0/1 background classes, 2/3: landslide in the class map
    write_png(tmp_path / "images" / "a.png", image)
    write_png(tmp_path / "masks" / "a.png", (classes[None] == 2).astype(np.uint8) * 2 + (classes[None] == 1))
    by_value = FolderSource(mask_value=2)
    assert np.array_equal(by_value.load(by_value.scan(tmp_path).records[0])[1][0], (classes == 2).astype(np.uint8))
    write_png(tmp_path / "masks" / "a.png", mask[None] * 255)
    by_nonzero = FolderSource()
    assert np.array_equal(by_nonzero.load(by_nonzero.scan(tmp_path).records[0])[1][0], mask)


def test_an_ambiguous_first_mask_lists_what_it_holds_and_the_option_to_pass(tmp_path):
    image, mask = picture(np.random.default_rng(4), 100, 100)
    write_png(tmp_path / "images" / "a.png", image)
    path = write_png(tmp_path / "masks" / "a.png", coloured(mask))
    red_share = round(100 * mask.mean())
    with pytest.raises(MaskValueError) as error:
        FolderSource().scan(tmp_path)
    assert error.value.path == path
    assert f"#000000 {100 - red_share} %, #ff0000 {red_share} %" in str(error.value)
    assert "--mask-colour '#ff0000'" in str(error.value)
    write_png(path, (mask + (np.arange(100)[None] % 3 == 0))[None].astype(np.uint8))  # values 0, 1, 2
    with pytest.raises(MaskValueError, match=r"values 0 .*, 1 .*, 2 .*--mask-value"):
        FolderSource().scan(tmp_path)
    write_png(path, (mask[None] + 1).astype(np.uint8))  # values 1 and 2: no background 0
    with pytest.raises(MaskValueError, match="--mask-value 2"):
        FolderSource().scan(tmp_path)


def test_mask_settings_that_do_not_fit_the_first_mask_fail_with_what_was_found(tmp_path):
    image, mask = picture(np.random.default_rng(5), 64, 64)
    write_png(tmp_path / "images" / "a.png", image)
    path = write_png(tmp_path / "masks" / "a.png", coloured(mask, YELLOW))
    with pytest.raises(MaskValueError, match=r"no #ff0000.*#ffff00") as error:
        FolderSource(mask_colour="red").scan(tmp_path)
    assert error.value.path == path
    write_png(path, mask[None] * 255)
    with pytest.raises(ImageFormatError, match="1 band.*--mask-value"):
        FolderSource(mask_colour="red").scan(tmp_path)
    with pytest.raises(MaskValueError, match="no 1 .*found 0 .*255"):
        FolderSource(mask_value=1).scan(tmp_path)
    write_png(path, np.zeros((1, 64, 64), np.uint8))  # no landslide at all is fine
    assert FolderSource(mask_value=1).scan(tmp_path).records


def test_a_jpeg_colour_mask_is_named_as_such(tmp_path):
    image, mask = picture(np.random.default_rng(6), 128, 128)
    write_png(tmp_path / "images" / "a.png", image)
    path = write_raster(tmp_path / "masks" / "a.jpg", coloured(mask), driver="JPEG")
    with pytest.raises(MaskValueError, match=r"JPEG mask has \d+ distinct values: #000000") as error:
        FolderSource(mask_colour="red").scan(tmp_path)
    assert error.value.path == path and "PNG or TIFF" in str(error.value)


def test_images_and_labels_in_one_folder_with_the_root_being_that_folder(tmp_path):
    rng = np.random.default_rng(7)
    data = tmp_path / "landslide"
    for n in (1, 2):
        image, mask = picture(rng, 80, 80)
        write_raster(data / f"Landslide{n:03d}.tif", image)
        write_raster(data / f"LandslideLabel{n:03d}.tif", mask * 255)
    # as the CLI passes it: the image folder as root, the mask folder absolute
    source = FolderSource(images=".", masks=str(data), image_pattern="Landslide{id}", mask_pattern="LandslideLabel{id}")
    found = source.scan(data)
    assert [(r.name, r.image.name, r.mask.name) for r in found.records] == [
        ("001", "Landslide001.tif", "LandslideLabel001.tif"), ("002", "Landslide002.tif", "LandslideLabel002.tif")]
    assert not found.problems and not found.ignored and found.folders == [data]
    with pytest.raises(ConfigError, match="same stem pattern"):
        FolderSource(images=".", masks=".").scan(data)


def test_tile_fit_cuts_windows_read_from_the_name_alone(tmp_path, folder):
    source = red_source(fit="tile")
    found = source.scan(tmp_path, progress=False)
    # 001 (420×300) is smaller than a window; 002 (1100×700): rows 0, 188 × cols 0, 512, 588; 003: one window
    assert [type(p) for p in found.problems] == [TileSizeError]
    assert found.problems[0].path == tmp_path / "images" / "img_001.png" and "fit='resize'" in str(found.problems[0])
    expected = sorted([window_name("002", r, c) for r in (0, 188) for c in (0, 512, 588)] + ["003__r0_c0"])
    assert [r.name for r in found.records] == expected
    record = next(r for r in found.records if r.name == "002__r188_c588")
    assert (record.row, record.col, record.scene) == (188, 588, "002")
    image, mask = source.read_tile(replace(record, row=None, col=None, scene=None))
    full_image, full_mask = folder["002"]
    assert np.array_equal(image, full_image[:, 188:700, 588:1100])
    assert np.array_equal(mask[0], full_mask[188:700, 588:1100])


def test_tile_fit_finds_a_mask_smaller_than_its_image(tmp_path, folder):
    write_png(tmp_path / "masks" / "002_mask.png", coloured(folder["002"][1][:600, :1000]))
    source = red_source(fit="tile")
    record = next(r for r in source.scan(tmp_path, progress=False).records if r.name == "002__r188_c588")
    with pytest.raises(TileSizeError, match="1000×600 pixels") as error:
        source.read_tile(record)
    assert error.value.path == tmp_path / "masks" / "002_mask.png"


def test_a_missing_or_empty_layout_names_the_folder_and_the_options(tmp_path, folder):
    with pytest.raises(DatasetNotFoundError, match="does not exist.*--images") as error:
        red_source().scan(tmp_path / "nowhere")
    assert error.value.path == tmp_path / "nowhere"
    with pytest.raises(DatasetNotFoundError, match="mask folder does not exist") as error:
        FolderSource(masks="labels").scan(tmp_path)
    assert error.value.path == tmp_path / "labels"
    with pytest.raises(DatasetNotFoundError, match=r"no image file matches the stem pattern 'tile_\{id\}' \(img_001.png"):
        FolderSource(image_pattern="tile_{id}").scan(tmp_path)
    with pytest.raises(UnknownSubDatasetError):
        red_source().scan(tmp_path, ["Bijie"])
    assert red_source().scan(tmp_path, ["folder"]).records


def test_settings_that_cannot_work_are_refused():
    with pytest.raises(ConfigError, match="not both"):
        FolderSource(mask_colour="red", mask_value=1)
    with pytest.raises(ConfigError, match="exactly once"):
        FolderSource(image_pattern="Landslide")
    with pytest.raises(ConfigError, match="'#rrggbb' nor one of red"):
        FolderSource(mask_colour="purple")
    with pytest.raises(ConfigError, match="fit 'crop'"):
        FolderSource(fit="crop")
    with pytest.raises(ConfigError, match="does not take"):
        get_source("folder", colour="red")


def test_colours_and_value_shares():
    assert parse_colour("#FFff00") == parse_colour("ffff00") == parse_colour("Yellow") == (255, 255, 0)
    mask = np.zeros((3, 10, 10), np.uint8)
    mask[0, :, :1] = 255
    assert describe_values(value_shares(mask)) == "#000000 90 %, #ff0000 10 %"
    assert describe_values(value_shares(np.arange(100, dtype=np.uint8).reshape(1, 10, 10)), limit=2) == \
        "0 1 %, 1 1 %, and 98 more"
    assert describe_values([("0", 0.9995), ("1", 0.0005)]) == "0 100 %, 1 0.05 %"


def test_spec_round_trip_and_no_download(tmp_path):
    source = red_source(fit="tile", size=256)
    again = get_source(source.spec())
    assert isinstance(again, FolderSource) and again.spec() == source.spec()
    assert (again.fit, again.size, again.tile_size, again.colour) == ("tile", 256, 256, (255, 0, 0))
    assert source.spec()["mask_colour"] == "#ff0000" and "#ff0000 = landslide" in source.mask_encoding
    with pytest.raises(NoDirectDownloadError, match="--images DIR --masks DIR"):
        source.download([], tmp_path)


def test_stand_in_is_deterministic_labelled_and_validates_clean_until_a_file_breaks(tmp_path):
    root = write_stand_in(tmp_path / "a", count=4, sizes=(300, 700))
    again = write_stand_in(tmp_path / "b", count=4, sizes=(300, 700))
    names = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.png"))
    assert names == [f"images/img_00{n}.png" for n in range(1, 5)] + [f"masks/00{n}_mask.png" for n in range(1, 5)]
    assert all((root / n).read_bytes() == (again / n).read_bytes() for n in names)
    shapes = {read_raster(root / n).shape for n in names if n.startswith("images")}
    assert len(shapes) == 4 and min(s[1] for s in shapes) < 512 < max(s[2] for s in shapes)
    source = red_source()
    assert source.is_synthetic(root) and source.data_label(root) == "image folder stand-in, synthetic"
    assert source.data_label(tmp_path) == "image folder data"
    found = source.scan(root)
    assert {r.source for r in found.records} == {"image folder stand-in, synthetic"}
    assert any(source.read_tile(r)[1].any() for r in found.records)
    report = validate_root(root, source=source, progress=False)
    assert report.ok and report.tiles_checked == 4
    broken = root / "images" / "img_003.png"
    broken.write_bytes(b"not a PNG")
    mismatched = write_png(root / "masks" / "004_mask.png", np.zeros((3, 100, 100), np.uint8))
    report = validate_root(root, source=source, progress=False)
    assert [(type(p), p.path) for p in report.problems] == [(UnreadableTileError, broken),
                                                            (TileSizeError, mismatched)]


def test_torch_dataset_and_manifest_round_trip_of_windows(tmp_path, folder):
    source = red_source(fit="tile")
    records = make_split(source.scan(tmp_path, progress=False).records, seed=0)
    manifest = write_manifest(records, tmp_path / "split.csv", root=tmp_path, seed=0, val_fraction=0.3)
    back = read_manifest(manifest, tmp_path)
    assert [(r.name, r.split) for r in back] == [(r.name, r.split) for r in sorted(records, key=lambda r: r.name)]
    assert all(r.row is None for r in back)
    for record in back:
        original = next(r for r in records if r.name == record.name)
        assert all(np.array_equal(a, b) for a, b in zip(source.read_tile(record), source.read_tile(original),
                                                          strict=True))
    item = TileDataset(back, source=get_source(source.spec()))[0]
    image, mask = source.read_tile(back[0])
    assert item["image"].dtype == torch.uint8 and torch.equal(item["image"], torch.from_numpy(image))
    assert torch.equal(IMAGENET.batch(item["image"][None])[0], torch.from_numpy(IMAGENET.apply(image)))
    assert item["mask"].dtype == torch.int64 and torch.equal(item["mask"], torch.from_numpy(mask[0].astype(np.int64)))


def named_folders(tmp_path: Path, images: list[str], masks: list[str]) -> tuple[Path, Path]:
    """``photos/<image>.png`` (RGB) and ``labels/<mask>.png`` (0/255), named as given, as real PNG files."""
    rng = np.random.default_rng(3)
    for name in images:
        write_png(tmp_path / "photos" / f"{name}.png", picture(rng, 40, 48)[0])
    for name in masks:
        write_png(tmp_path / "labels" / f"{name}.png", picture(rng, 40, 48)[1][None] * 255)
    return tmp_path / "photos", tmp_path / "labels"


IDS = ["001", "002", "010", "059"]
LAYOUTS = {  # image and mask stems as found, the patterns that pair them, the first pair, the ids they give
    "sichuan public copy": ([f"Landslide{i}" for i in IDS], [f"LandslideLabel{i}" for i in IDS],
                            ("Landslide{id}", "LandslideLabel{id}"), ("Landslide001.png", "LandslideLabel001.png"),
                            IDS),
    "<id>_label": ([f"hokkaido_{i}" for i in IDS], [f"hokkaido_{i}_label" for i in IDS], ("{id}", "{id}_label"),
                   ("hokkaido_001.png", "hokkaido_001_label.png"), [f"hokkaido_{i}" for i in IDS]),
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_names_that_pair_by_other_patterns_fail_with_the_patterns_to_pass(tmp_path, layout):
    image_names, mask_names, (image_pattern, mask_pattern), (image, mask), ids = LAYOUTS[layout]
    images, masks = named_folders(tmp_path, image_names, mask_names)
    # as --images/--masks pass them: no pattern (no image finds its mask), or a wrong one (no mask matches it)
    for wrong, error_type, problem, path in (
            ({}, MissingPartnerError, f"no image here pairs with a mask in {masks} by the stem patterns '{{id}}' "
                                      "and '{id}', but", images),
            ({"mask_pattern": "{id}_gt"}, DatasetNotFoundError, "no mask file matches the stem pattern '{id}_gt' (",
             masks)):
        with pytest.raises(error_type) as error:
            FolderSource(images=str(images), masks=str(masks), **wrong).scan(images)
        assert error.value.path == path and f"{path}: {problem}" in str(error.value)
        assert f"image stem pattern '{image_pattern}' and the mask stem pattern '{mask_pattern}'" in str(error.value)
        assert "all 4 images pair one to one with the 4 masks" in str(error.value)
        assert f"(e.g. {image} with {mask})" in str(error.value)
        assert (f"Fix: read them with --images {images} --masks {masks} --image-pattern '{image_pattern}' "
                f"--mask-pattern '{mask_pattern}'") in str(error.value)
    found = FolderSource(images=str(images), masks=str(masks), image_pattern=image_pattern,
                         mask_pattern=mask_pattern).scan(images)
    assert not found.problems and [r.name for r in found.records] == ids
    assert [(r.image.name, r.mask.name) for r in found.records] == [
        (f"{i}.png", f"{m}.png") for i, m in zip(image_names, mask_names, strict=True)]


def test_names_that_no_single_pattern_pairs_keep_the_problem_per_file(tmp_path, capsys):
    # one label missing: no rule pairs every file one to one
    images, masks = named_folders(tmp_path, LAYOUTS["sichuan public copy"][0], LAYOUTS["sichuan public copy"][1][:3])
    found = FolderSource(images=str(images), masks=str(masks)).scan(images)
    assert not found.records and len(found.problems) == 7
    assert str(found.problems[0]) == (
        f"{images / 'Landslide001.png'}: image has no mask with the id 'Landslide001' (a mask named 'Landslide001' "
        f"in {masks}). Fix: add its mask, or remove the image")
    assert main(["validate", "--images", str(images), "--masks", str(masks), "-q"]) == 1
    assert "image has no mask with the id 'Landslide001'" in capsys.readouterr().out


def test_the_command_line_names_the_patterns_to_pass(tmp_path, capsys):
    images, masks = named_folders(tmp_path, *LAYOUTS["sichuan public copy"][:2])
    assert main(["validate", "--images", str(images), "--masks", str(masks), "-q"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {images}: no image here pairs with a mask in {masks} by the stem patterns '{{id}}'")
    assert "--image-pattern 'Landslide{id}' --mask-pattern 'LandslideLabel{id}'" in err and "more problem" not in err
    assert main(["validate", "--images", str(images), "--masks", str(masks), "--image-pattern", "Landslide{id}",
                 "--mask-pattern", "LandslideLabel{id}", "--tile-size", "0", "-q"]) == 0
