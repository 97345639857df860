"""Models: output shapes, parameter counts against published ones, gradients, the registry, local weights.

Nothing here downloads: every model is built with ``pretrained=False`` or from a local
file of randomly initialised torchvision weights. Parameter counts are taken on the
``meta`` device (shapes only, no memory, no initialisation time).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn
from torch.autograd import gradcheck
from torch.func import functional_call

from landslide_core.errors import PathProblemError, UnknownModelError
from landslide_core.models import MODEL_NAMES, available_models, build_model, describe_model
from landslide_core.models.mffenet import RCM, AttentionGate, FusionLevel, SpatialAttention
from landslide_core.models.weights import load_backbone_weights


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def on_meta(name: str, **options: object) -> nn.Module:
    with torch.device("meta"):
        return build_model(name, **options)


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """One thread: on a shared 2-core machine, OpenMP synchronisation costs these small tests up to 10× the work."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def models() -> dict[str, nn.Module]:
    """The paper's four models, built once (random weights)."""
    torch.manual_seed(0)
    return {name: build_model(name) for name in MODEL_NAMES}


# --- shapes -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", MODEL_NAMES)
def test_one_logit_per_pixel_at_the_input_size(models: dict[str, nn.Module], name: str) -> None:
    model = models[name].eval()
    with torch.no_grad():
        for size in [(64, 64), (64, 128), (256, 32)]:
            assert model(torch.randn(2, 3, *size)).shape == (2, 1, *size)


@pytest.mark.parametrize("name", ["fcn", "mffenet"])
def test_sizes_that_are_not_multiples_of_32(models: dict[str, nn.Module], name: str) -> None:
    model = models[name].eval()
    with torch.no_grad():
        for size in [(70, 90), (100, 45)]:
            assert model(torch.randn(1, 3, *size)).shape == (1, 1, *size)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_num_classes_and_in_channels(name: str) -> None:
    model = build_model(name, num_classes=2, in_channels=4).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 4, 64, 64)).shape == (2, 2, 64, 64)


def test_mffenet_skip_features_at_512(models: dict[str, nn.Module]) -> None:
    backbone = models["mffenet"].backbone.eval()
    with torch.no_grad():
        features = backbone(torch.randn(1, 3, 512, 512))
    assert [tuple(f.shape[1:]) for f in features] == [(64, 256, 256), (256, 128, 128), (512, 64, 64), (2048, 32, 32)]
    # Output stride 16 with multi-grid (1, 2, 4): layer4 keeps its resolution and dilates 2, 4, 8.
    assert [block.conv2.dilation[0] for block in backbone.layer4] == [2, 4, 8]
    assert all(block.conv2.stride == (1, 1) for block in backbone.layer4)


# --- parameter counts -------------------------------------------------------------------------------------------

def test_mffenet_resnet101_has_the_original_71_4_million_parameters() -> None:
    # Published for the original code (two classes): 71.4 M = backbone 42.5 + ASPP 15.5 + decoder 13.3.
    model = on_meta("mffenet", backbone="resnet101", num_classes=2)
    assert abs(n_params(model) - 71.4e6) <= 0.3e6
    parts = [round(n_params(part) / 1e6, 1) for part in (model.backbone, model.aspp, model.decoder)]
    assert parts == [42.5, 15.5, 13.3]


def test_mffenet_resnet50_is_resnet101_minus_the_backbone_difference() -> None:
    # Only the backbone changes: ResNet-101 has 17 more bottlenecks in layer3 than ResNet-50 (19.0 M parameters),
    # so "about 52 M" = 71.4 M − 19.0 M = 52.4 M, ± the 0.3 M tolerance of the published figure, with one class.
    r50, r101 = on_meta("mffenet"), on_meta("mffenet", backbone="resnet101")
    with torch.device("meta"):
        difference = n_params(torchvision.models.resnet50()) - n_params(torchvision.models.resnet101())
    assert n_params(r50) - n_params(r101) == difference
    assert 52.1e6 <= n_params(r50) <= 52.7e6


def test_mffenet_backbone_is_torchvision_resnet50_without_fc() -> None:
    model = on_meta("mffenet")
    with torch.device("meta"):
        reference = torchvision.models.resnet50().state_dict()
    expected = {k: v.shape for k, v in reference.items() if not k.startswith("fc.")}
    assert {k: v.shape for k, v in model.backbone.state_dict().items()} == expected


def fcn8s_parameters(num_classes: int, fc: int = 4096) -> int:
    """FCN-8s counted by hand: VGG16 convolutions, fc6 (7×7) and fc7 (1×1), three score layers, three upsamplings."""
    vgg16_convs = 14_714_688
    fc6, fc7 = 512 * 7 * 7 * fc + fc, fc * fc + fc
    scores = (fc + 512 + 256) * num_classes + 3 * num_classes
    upsampling = num_classes * num_classes * (4 * 4 + 4 * 4 + 16 * 16)  # ×2, ×2, ×8 transposed convs, no bias
    return vgg16_convs + fc6 + fc7 + scores + upsampling


def test_deeplabv3plus_and_mffenet_share_the_aspp_rates_of_output_stride_16(models: dict[str, nn.Module]) -> None:
    """Both run at output stride 16 (layer4 dilated) with ASPP rates 6, 12, 18, the DeepLabV3+ paper's for that stride."""

    def rates(aspp: nn.Module) -> set[int]:
        return {m.dilation[0] for m in aspp.modules() if isinstance(m, nn.Conv2d) and m.dilation[0] > 1}

    deeplab, mffenet = models["deeplabv3plus"], models["mffenet"]
    assert rates(deeplab.decoder.aspp) == rates(mffenet.aspp) == {6, 12, 18}
    assert deeplab.encoder.layer4[0].conv2.dilation == (2, 2) and deeplab.encoder.layer4[0].conv2.stride == (1, 1)


def test_fcn8s_parameter_count() -> None:
    with torch.device("meta"):
        assert n_params(torchvision.models.vgg16().features) == 14_714_688
    # Long et al. (2015), Table 1: FCN-VGG16 has 134 M parameters (PASCAL VOC, 21 classes).
    assert n_params(on_meta("fcn", num_classes=21)) == fcn8s_parameters(21) == 134_489_759
    assert n_params(on_meta("fcn")) == fcn8s_parameters(1) == 134_265_699


# --- gradients --------------------------------------------------------------------------------------------------

def assert_gradcheck(block: nn.Module, *inputs: torch.Tensor, pack: Callable[..., tuple] = lambda *xs: xs) -> None:
    """Analytic vs numerical gradients, for the inputs and every parameter (float64, train-mode BatchNorm).

    ``pack`` turns the flat inputs into ``block``'s arguments.
    """
    block = block.double().train()
    names = [name for name, _ in block.named_parameters()]
    params = [p.detach().clone().requires_grad_() for p in block.parameters()]

    def run(*tensors: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        return functional_call(block, dict(zip(names, tensors[len(inputs):], strict=False)), pack(*tensors[:len(inputs)]))

    assert gradcheck(run, (*inputs, *params))


def rand(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, dtype=torch.float64, requires_grad=True)


def test_gradcheck_building_blocks() -> None:
    torch.manual_seed(0)
    assert_gradcheck(AttentionGate(3, 4, 2), rand(2, 3, 5, 5), rand(2, 4, 5, 5))
    assert_gradcheck(SpatialAttention(4, (2, 2)), rand(2, 4, 5, 5))  # SA2
    assert_gradcheck(SpatialAttention(4, (4,)), rand(2, 4, 5, 5))  # SA1
    assert_gradcheck(RCM(4, 2), rand(2, 4, 5, 5))
    # A whole fusion level, with its inputs at coarser, equal and finer resolutions than the skip x (3×3).
    fusion = FusionLevel(gate=(2, 3), sources=(2, 1, 1), channels=2, groups=(1, 2), refine=2)
    assert_gradcheck(fusion, rand(2, 2, 2, 2), rand(2, 3, 3, 3), rand(2, 2, 2, 2), rand(2, 1, 4, 4), rand(2, 1, 3, 3),
                     pack=lambda g, x, *sources: (g, x, sources))


def biases_before_batchnorm(model: nn.Module) -> set[str]:
    """Conv biases feeding BatchNorm directly: train-mode BN removes the batch mean, so their gradient is zero.

    Only MFFENet's projections (CA) have them, kept from the original code.
    """
    names = set()
    for prefix, module in model.named_modules():
        if isinstance(module, nn.Sequential):
            for i, (layer, following) in enumerate(zip(module, list(module)[1:], strict=False)):
                if isinstance(layer, nn.Conv2d) and layer.bias is not None and isinstance(following, nn.BatchNorm2d):
                    names.add(f"{prefix}.{i}.bias")
    return names


@pytest.mark.slow
@pytest.mark.parametrize("name", ["fcn", "mffenet"])
def test_every_parameter_gets_a_gradient(models: dict[str, nn.Module], name: str) -> None:
    model = models[name].train()
    model.zero_grad(set_to_none=True)
    torch.manual_seed(0)
    if name == "fcn":  # its score layers start at zero and pass nothing back at first: give them weights to test wiring
        model = build_model("fcn").train()
        for score in (model.score_fr, model.score_pool4, model.score_pool3):
            nn.init.normal_(score.weight, std=0.01)
    logits = model(torch.randn(2, 3, 64, 64))
    (logits * torch.randn_like(logits)).sum().backward()  # random weights: no symmetry cancels a gradient
    inert = biases_before_batchnorm(model)
    assert len(inert) == (9 if name == "mffenet" else 0)
    for pname, param in model.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), pname
        if pname in inert:
            assert param.grad.abs().max() < 1e-4, pname
        else:
            assert param.grad.abs().sum() > 0, pname


def test_parameter_groups_split_backbone_and_head(models: dict[str, nn.Module]) -> None:
    model = models["mffenet"]
    groups = model.parameter_groups()
    assert set(groups) == {"backbone", "head"}
    assert sum(len(g) for g in groups.values()) == len(list(model.parameters()))
    assert {id(p) for p in groups["backbone"]} == {id(p) for p in model.backbone.parameters()}


# --- registry ---------------------------------------------------------------------------------------------------

def test_registry_names() -> None:
    assert set(MODEL_NAMES) < set(available_models())
    assert [describe_model(n).paper_name for n in MODEL_NAMES] == ["FCN", "U-Net", "DeepLabV3+", "MFFENet"]


def test_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownModelError) as error:
        build_model("segnet")
    assert all(name in str(error.value) for name in (*MODEL_NAMES, "smp:<Architecture>/<encoder>"))


def test_smp_form_builds_any_architecture() -> None:
    model = build_model("smp:UnetPlusPlus/resnet18", num_classes=2).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 64, 64)).shape == (2, 2, 64, 64)


@pytest.mark.parametrize("name, message", [
    ("smp:SegNet/resnet18", "no architecture 'SegNet'; use one of: DPT, DeepLabV3"),
    ("smp:Unet/resnet5000", "no encoder 'resnet5000'"),
    ("smp:Unet", "needs an encoder"),
    ("smp:Unet/", "needs an encoder"),
])
def test_smp_form_errors(name: str, message: str) -> None:
    with pytest.raises(UnknownModelError, match=message):
        build_model(name)


def test_unknown_mffenet_backbone() -> None:
    with pytest.raises(UnknownModelError, match="no backbone 'resnet34'; use one of: resnet50, resnet101"):
        build_model("mffenet", backbone="resnet34")


# --- local weights ----------------------------------------------------------------------------------------------

def truncated_copy(path: Path, copy: Path) -> Path:
    """The first MiB of ``path``, as an interrupted download leaves it."""
    with path.open("rb") as file:
        copy.write_bytes(file.read(1 << 20))
    return copy


@pytest.fixture(scope="module")
def resnet_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Random torchvision ResNet-50 and ResNet-18 state dicts, a truncated copy, and a file that is no state dict."""
    root = tmp_path_factory.mktemp("resnet")
    torch.manual_seed(0)
    files = {arch: root / f"{arch}.pth" for arch in ("resnet50", "resnet18")}
    for arch, path in files.items():
        torch.save(getattr(torchvision.models, arch)().state_dict(), path)
    files["truncated"] = truncated_copy(files["resnet50"], root / "truncated.pth")
    files["list"] = root / "list.pth"
    torch.save([1, 2, 3], files["list"])
    files["missing"] = root / "missing.pth"
    return files


def assert_same_tensors(got: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    assert set(got) == set(expected)
    assert all(torch.equal(got[key], expected[key]) for key in got)


def test_local_resnet50_weights_load_into_mffenet_and_unet(resnet_files: dict[str, Path]) -> None:
    state = torch.load(resnet_files["resnet50"], weights_only=True)
    without_fc = {k: v for k, v in state.items() if not k.startswith("fc.")}
    assert_same_tensors(build_model("mffenet", pretrained=resnet_files["resnet50"]).backbone.state_dict(), without_fc)
    assert_same_tensors(build_model("unet", pretrained=str(resnet_files["resnet50"])).encoder.state_dict(), without_fc)


def test_local_weights_with_more_bands(resnet_files: dict[str, Path]) -> None:
    # RGB filters are repeated over the extra band and rescaled by 3/4 (as smp does for ImageNet weights).
    rgb = torch.load(resnet_files["resnet50"], weights_only=True)["conv1.weight"]
    expected = torch.cat([rgb, rgb[:, :1]], 1) * 3 / 4
    mffenet = build_model("mffenet", in_channels=4, pretrained=resnet_files["resnet50"])
    unet = build_model("unet", in_channels=4, pretrained=resnet_files["resnet50"])
    for model, conv in [(mffenet, mffenet.backbone.conv1), (unet, unet.encoder.conv1)]:
        assert torch.allclose(conv.weight, expected)
        with torch.no_grad():
            assert model.eval()(torch.randn(2, 4, 64, 64)).shape == (2, 1, 64, 64)


@pytest.mark.parametrize("key", ["state_dict", "model"])
def test_checkpoint_dicts_are_unwrapped(tmp_path: Path, resnet_files: dict[str, Path], key: str) -> None:
    state = torch.load(resnet_files["resnet18"], weights_only=True)
    torch.save({key: state, "epoch": torch.tensor(3)}, tmp_path / "checkpoint.pth")
    model = torchvision.models.resnet18()
    load_backbone_weights(model, tmp_path / "checkpoint.pth")
    assert_same_tensors(model.state_dict(), state)


@pytest.mark.parametrize("name, file, problem", [
    ("mffenet", "truncated", "cannot be read as PyTorch weights"),
    ("mffenet", "resnet18", "key(s) of the wrong shape (layer1.0.conv1.weight is (64, 64, 3, 3) in the file"),
    ("mffenet", "list", "holds a list, not a state dict"),
    ("mffenet", "missing", "weights file not found"),
    ("unet", "truncated", "cannot be read as PyTorch weights"),
    ("unet", "resnet18", "key(s) missing from the file (layer1.0.conv3.weight"),
])
def test_bad_weight_files_are_named(resnet_files: dict[str, Path], name: str, file: str, problem: str) -> None:
    with pytest.raises(PathProblemError) as error:
        build_model(name, pretrained=resnet_files[file])
    assert error.value.path == resnet_files[file]
    assert str(error.value).startswith(f"{resnet_files[file]}: ")
    assert problem in str(error.value) and "Fix: " in str(error.value)


@pytest.fixture(scope="module")
def vgg16_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("vgg") / "vgg16.pth"
    torch.manual_seed(0)
    torch.save(torchvision.models.vgg16().state_dict(), path)
    return path


def test_local_vgg16_weights_load_into_fcn(vgg16_file: Path) -> None:
    state = torch.load(vgg16_file, weights_only=True)
    backbone = build_model("fcn", pretrained=vgg16_file).backbone.state_dict()
    features = {k: v for k, v in backbone.items() if k.startswith("features.")}
    assert_same_tensors(features, {k: v for k, v in state.items() if k.startswith("features.")})
    # fc6/fc7: the fully connected weights, reshaped into 7×7 and 1×1 convolutions.
    assert torch.equal(backbone["classifier.0.weight"], state["classifier.0.weight"].view(4096, 512, 7, 7))
    assert torch.equal(backbone["classifier.3.weight"], state["classifier.3.weight"].view(4096, 4096, 1, 1))
    assert torch.equal(backbone["classifier.3.bias"], state["classifier.3.bias"])


def test_bad_vgg16_files_are_named(tmp_path: Path, vgg16_file: Path, resnet_files: dict[str, Path]) -> None:
    truncated = truncated_copy(vgg16_file, tmp_path / "vgg16-truncated.pth")
    # Narrow fc layers where the file is rejected before they matter: they build faster.
    cases = [(truncated, {"fc_channels": 64}, "cannot be read"),
             (resnet_files["resnet50"], {"fc_channels": 64}, "key(s) not in the model (conv1.weight"),
             (vgg16_file, {"fc_channels": 1024},
              "classifier.0.weight is (4096, 25088) in the file but (1024, 512, 7, 7) in the model")]
    for path, options, problem in cases:
        with pytest.raises(PathProblemError) as error:
            build_model("fcn", pretrained=path, **options)
        assert error.value.path == path and problem in str(error.value)
        assert "torchvision vgg16 state dict" in str(error.value)


@pytest.mark.parametrize("size", [(2, 2), (4, 4), (5, 7)])
def test_fc6_on_the_cpu_computes_the_same_convolution_and_gradients_as_conv2d(size: tuple[int, int]) -> None:
    """The im2col path replaces oneDNN's slow backward pass only; values and gradients are the convolution's."""
    from landslide_core.models.fcn import Fc6Convolution

    torch.manual_seed(0)
    fast, reference = Fc6Convolution(16, 32, 7, padding=3), torch.nn.Conv2d(16, 32, 7, padding=3)
    reference.load_state_dict(fast.state_dict())
    x = torch.randn(3, 16, *size, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_(True)
    out, expected = fast(x), reference(x_ref)
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)
    out.square().sum().backward()
    expected.square().sum().backward()
    torch.testing.assert_close(fast.weight.grad, reference.weight.grad, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(fast.bias.grad, reference.bias.grad, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-4, atol=1e-4)


def test_fcn_from_scratch_keeps_the_activation_scale_through_fc6_fc7_and_starts_its_scores_at_zero() -> None:
    torch.manual_seed(0)
    model = build_model("fcn", pretrained=False).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        _, pool4, fc7 = model.backbone(x)
        logits = model(x)
    for layer in (model.backbone.classifier[0], model.backbone.classifier[3]):
        layer.reset_parameters()  # PyTorch's default initialisation, for comparison
    with torch.no_grad():
        _, _, fc7_default = model.backbone(x)
    assert fc7.std() > 3 * fc7_default.std()
    assert torch.count_nonzero(logits) == 0
    for score in (model.score_fr, model.score_pool4, model.score_pool3):
        assert torch.count_nonzero(score.weight) == 0 and torch.count_nonzero(score.bias) == 0


def test_fcn8s_with_batch_norm_is_vgg16_bn_with_the_same_heads_and_taps_pool3_and_pool4() -> None:
    """``batch_norm=True`` (our option) adds VGG16-BN's 13 batch norms (2 × channels each) and nothing else."""
    batch_norms = 2 * sum([64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512])
    assert n_params(on_meta("fcn", batch_norm=True)) == fcn8s_parameters(1) + batch_norms
    model = build_model("fcn", batch_norm=True).eval()
    assert isinstance(model.backbone.features[1], nn.BatchNorm2d)
    with torch.no_grad():
        pool3, pool4, fc7 = model.backbone(torch.zeros(1, 3, 64, 64))
        logits = model(torch.zeros(2, 3, 64, 64))
    assert pool3.shape == (1, 256, 8, 8) and pool4.shape == (1, 512, 4, 4) and fc7.shape == (1, 4096, 2, 2)
    assert logits.shape == (2, 1, 64, 64)
