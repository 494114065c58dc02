"""The two branches, the encoder, fusion and prediction, on tiny data."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

keras = pytest.importorskip("keras")

from mmrec_assets.ml import features  # noqa: E402
from mmrec_assets.ml.bundle import ModelBundle, load_bundle, save_bundle  # noqa: E402
from mmrec_assets.ml.fusion import build_fused_model, fit_fusion, fuse  # noqa: E402
from mmrec_assets.ml.image_model import (  # noqa: E402
    assemble_image_model,
    image_head,
    train_image_head,
)
from mmrec_assets.ml.predict import (  # noqa: E402
    BOTH,
    IMAGE_ONLY,
    NEITHER,
    TEXT_ONLY,
    ProductClassifier,
)
from mmrec_assets.ml.text_model import (  # noqa: E402
    TextModelSettings,
    predict_text,
    train_text_model,
)
from mmrec_assets.ml.training import FitSettings, balanced_class_weights  # noqa: E402

SIZE = 32
WORDS = [("poupe", "bebe"), ("consol", "jeu"), ("piscin", "jardin")]


def fake_texts(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.array([" ".join(rng.choice(WORDS[label], 4)) for label in labels], dtype=object)


@pytest.fixture(scope="module")
def encoder():
    return features.build_encoder(SIZE, "none", seed=1)


@pytest.fixture(scope="module")
def trained(encoder):
    """A text model and an image model trained on three easy classes."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 12)
    texts = fake_texts(labels, rng)
    text_model, _ = train_text_model(
        texts,
        labels,
        texts,
        labels,
        3,
        TextModelSettings(sequence_length=8),
        FitSettings(epochs=8, batch_size=8, learning_rate=1e-2),
    )
    colours = np.array([[230, 30, 30], [30, 230, 30], [30, 30, 230]], dtype=np.uint8)
    pixels = np.broadcast_to(colours[labels][:, None, None, :], (len(labels), SIZE, SIZE, 3))
    stored = features.encode(encoder.model, np.ascontiguousarray(pixels))
    head, _ = train_image_head(
        stored, labels, stored, labels, 3, fit=FitSettings(epochs=30, learning_rate=1e-2)
    )
    return text_model, assemble_image_model(encoder.model, head), texts, pixels, labels


def test_vgg16_preprocessing_layer_matches_keras_preprocess_input():
    rng = np.random.default_rng(0)
    pixels = rng.uniform(0, 255, (2, SIZE, SIZE, 3)).astype(np.float32)
    layer = features.vgg16_preprocessing(SIZE)
    expected = keras.applications.vgg16.preprocess_input(pixels.copy())
    np.testing.assert_allclose(np.asarray(layer(pixels)), expected, atol=1e-3)


def test_imagenet_weights_strict_fails_clearly_when_unavailable(monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr("keras.src.applications.vgg16.file_utils.get_file", offline)
    with pytest.raises(features.PretrainedWeightsUnavailable, match="Keras cache"):
        features.build_encoder(SIZE, "imagenet")


def test_auto_weights_fall_back_to_random_with_a_warning(monkeypatch, caplog):
    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr("keras.src.applications.vgg16.file_utils.get_file", offline)
    encoder = features.build_encoder(SIZE, "auto")
    assert encoder.weights_source == "random"
    assert not encoder.pretrained
    assert "RANDOMLY INITIALISED" in encoder.warning
    assert "RANDOMLY INITIALISED" in caplog.text


def test_weights_from_a_local_file_are_loaded(tmp_path):
    donor = keras.applications.VGG16(include_top=False, weights=None, input_shape=(SIZE, SIZE, 3))
    path = tmp_path / "vgg16_notop.weights.h5"
    donor.save_weights(path)
    encoder = features.build_encoder(SIZE, str(path))
    assert encoder.pretrained and encoder.weights_source == str(path)
    loaded = encoder.model.get_layer("vgg16").get_weights()
    for expected, actual in zip(donor.get_weights(), loaded, strict=True):
        np.testing.assert_array_equal(expected, actual)


def test_missing_weights_file_is_an_error():
    with pytest.raises(FileNotFoundError, match="nowhere.h5"):
        features.build_encoder(SIZE, "/nowhere.h5")


def test_encoder_gives_512_features_and_counts_its_calls(encoder):
    before = features.ConvBaseCounter.images
    out = features.encode(encoder.model, np.zeros((3, SIZE, SIZE, 3), dtype=np.uint8))
    assert out.shape == (3, features.FEATURE_DIM)
    assert features.ConvBaseCounter.images - before == 3


def test_extract_features_streams_aligned_rows_and_records_rejections(encoder, tmp_path):
    paths = []
    for i, colour in enumerate([(200, 0, 0), (0, 200, 0)]):
        path = tmp_path / f"ok{i}.jpg"
        Image.new("RGB", (60, 40), colour).save(path)
        paths.append(str(path))
    paths.insert(1, str(tmp_path / "missing.jpg"))

    with (
        open(tmp_path / "pixels.npy", "wb") as pixels_out,
        open(tmp_path / "features.npy", "wb") as features_out,
    ):
        report = features.extract_features(
            encoder.model, paths, SIZE, pixels_out, features_out, chunk_size=2
        )

    stored = np.load(tmp_path / "features.npy")
    pixels = np.load(tmp_path / "pixels.npy")
    assert stored.shape == (3, 512) and pixels.shape == (3, SIZE, SIZE, 3)
    assert report.rejected == 1 and report.reasons[1] == "image file not found"
    assert np.isnan(stored[1]).all() and not np.isnan(stored[[0, 2]]).any()
    assert report.conv_base_images == 2
    direct = features.encode(encoder.model, pixels[[0, 2]])
    np.testing.assert_allclose(stored[[0, 2]], direct, rtol=1e-4, atol=1e-4)


def test_balanced_class_weights_favour_rare_classes():
    weights = balanced_class_weights(np.array([0, 0, 0, 1]), 3)
    assert weights[1] == pytest.approx(3 * weights[0])
    assert weights[2] == 1.0


def test_text_model_takes_strings_and_survives_a_keras_file(trained, tmp_path):
    text_model, _, texts, _, labels = trained
    accuracy = (predict_text(text_model, texts).argmax(1) == labels).mean()
    assert accuracy > 0.9

    save_bundle(ModelBundle(text_model, [10, 40, 50], {"max_tokens": 5}), tmp_path)
    reloaded = load_bundle(tmp_path)
    assert reloaded.class_codes == [10, 40, 50]
    np.testing.assert_allclose(
        predict_text(reloaded.model, texts), predict_text(text_model, texts), atol=1e-5
    )
    kinds = {type(layer).__name__ for layer in reloaded.model.layers}
    assert "TextVectorization" in kinds and "Lambda" not in kinds


def test_image_model_runs_pixels_through_encoder_and_head(trained, encoder):
    _, image_model, _, pixels, labels = trained
    from_pixels = image_model.predict(np.asarray(pixels, dtype=np.float32), verbose=0)
    from_features = image_head(image_model).predict(
        features.encode(encoder.model, np.ascontiguousarray(pixels)), verbose=0
    )
    np.testing.assert_allclose(from_pixels, from_features, atol=1e-4)
    assert (from_pixels.argmax(1) == labels).mean() > 0.9


def test_fusion_is_never_worse_than_the_better_branch_on_validation():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 5, 200)
    for good_share in (0.2, 0.5, 0.9):
        good = np.eye(5)[labels] * good_share + rng.dirichlet(np.ones(5), 200)
        poor = rng.dirichlet(np.ones(5), 200)
        good, poor = good / good.sum(1, keepdims=True), poor
        for text, image in ((good, poor), (poor, good)):
            fit = fit_fusion(text, image, labels)
            best = max(
                fit.validation["text"]["weighted_f1"], fit.validation["image"]["weighted_f1"]
            )
            assert fit.validation["fused"]["weighted_f1"] >= best


def test_fusion_uses_both_branches_when_they_complement_each_other():
    labels = np.array([0, 1, 2, 3] * 25)
    # Text tells {0,1} from {2,3}; the image tells {0,2} from {1,3}.
    text = np.array([[0.5, 0.5, 0, 0], [0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5], [0, 0, 0.5, 0.5]])
    image = np.array([[0.5, 0, 0.5, 0], [0, 0.5, 0, 0.5], [0.5, 0, 0.5, 0], [0, 0.5, 0, 0.5]])
    fit = fit_fusion(text[labels] + 0.01, image[labels], labels)
    assert 0 < fit.text_weight < 1
    assert fit.validation["fused"]["accuracy"] == 1.0


def test_fusion_rejects_misaligned_branches():
    with pytest.raises(ValueError, match="same shape"):
        fit_fusion(np.ones((4, 3)) / 3, np.ones((4, 2)) / 2, np.zeros(4, dtype=int))


def test_fused_model_equals_weighted_branches_and_reloads(trained, tmp_path):
    text_model, image_model, texts, pixels, _ = trained
    fused = build_fused_model(text_model, image_model, 0.3)
    save_bundle(ModelBundle(fused, [10, 40, 50]), tmp_path)
    reloaded = load_bundle(tmp_path).model

    pixels = np.asarray(pixels[:6], dtype=np.float32)
    out = reloaded.predict_on_batch({"text": texts[:6].reshape(-1, 1), "pixels": pixels})
    expected = fuse(
        predict_text(text_model, texts[:6]), image_model.predict(pixels, verbose=0), 0.3
    )
    np.testing.assert_allclose(out, expected, atol=1e-5)
    names = {layer.name for layer in reloaded.layers}
    assert {"text_lstm", "image_vgg16"} <= names


def test_classifier_says_which_branch_scored_each_row(trained, tmp_path):
    text_model, image_model, _, _, _ = trained
    fused = build_fused_model(text_model, image_model, 0.5)
    bundle = ModelBundle(fused, [10, 40, 50], {"image_size": SIZE, "max_tokens": 20})
    Image.new("RGB", (50, 50), (30, 230, 30)).save(tmp_path / "green.jpg")
    products = pd.DataFrame(
        {
            "designation": ["Console de jeu", "Console de jeu", "", ""],
            "description": ["", "", "", None],
            "productid": [1, 2, 3, 4],
            "imageid": [11, 12, 13, 14],
            "image_path": [str(tmp_path / "green.jpg"), str(tmp_path / "gone.jpg")] * 2,
        },
        index=pd.Index([7, 8, 9, 10], name="row_id"),
    )
    predictions = ProductClassifier(bundle, version="v1").predict(products)

    assert predictions["source"].tolist() == [BOTH, TEXT_ONLY, IMAGE_ONLY, NEITHER]
    assert predictions["image_problem"].tolist()[1] == "image file not found"
    assert predictions.index.tolist() == [7, 8, 9, 10]
    assert set(predictions["predicted_prdtypecode"]) <= {10, 40, 50}
    assert predictions.loc[7, "predicted_prdtypecode"] == 40
    assert all(len(top) == 3 for top in predictions["top3_prdtypecodes"])
    assert (predictions["model_version"] == "v1").all()
