import keras
import numpy as np
import pytest

from pyimagesearch.preprocessing import CropPreprocessor, ImageToArrayPreprocessor, MeanPreprocessor
from pyimagesearch.utils import ensemble_predict, predict_oversampled


def _model(seed, size=8, classes=3):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((size, size, 3)),
        keras.layers.Conv2D(2, 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(classes, activation="softmax"),
    ])


def _images(n=5, size=12):
    return (np.random.default_rng(1).random((n, size, size, 3)) * 255).astype("uint8")


def test_predict_oversampled_equals_the_books_per_image_loop():
    model = _model(0)
    images = _images()
    cp = CropPreprocessor(8, 8)
    iap = ImageToArrayPreprocessor()
    mp = MeanPreprocessor(120.0, 110.0, 100.0)

    expected = []
    for image in images:  # chapter 10's crop_accuracy.py
        crops = cp.preprocess(image)
        crops = np.array([iap.preprocess(mp.preprocess(c)) for c in crops], dtype="float32")
        expected.append(model.predict(crops, verbose=0).mean(axis=0))

    for batch_size in (7, 64):
        got = predict_oversampled(model, images, cp, preprocessors=[mp, iap], batch_size=batch_size)
        assert got.shape == (5, 3)
        np.testing.assert_allclose(got, np.array(expected), rtol=1e-5, atol=1e-6)


def test_predict_oversampled_with_a_cropper_without_batch_method():
    class Corners:
        def preprocess(self, image):
            return np.stack([image[:8, :8], image[-8:, -8:]]).astype("float32")

    model = _model(1)
    images = _images(3)
    expected = [model.predict(Corners().preprocess(i), verbose=0).mean(axis=0) for i in images]
    got = predict_oversampled(model, images, Corners(), batch_size=4)
    np.testing.assert_allclose(got, np.array(expected), rtol=1e-5, atol=1e-6)


def test_predict_oversampled_bad_input():
    model = _model(0)
    with pytest.raises(ValueError, match="cropper"):
        predict_oversampled(model, _images(), None)
    with pytest.raises(ValueError, match="batch_size"):
        predict_oversampled(model, _images(), CropPreprocessor(8, 8), batch_size=0)
    with pytest.raises(ValueError, match="images"):
        predict_oversampled(model, _images()[:0], CropPreprocessor(8, 8))


def test_ensemble_predict_is_the_mean_of_members(tmp_path):
    x = _images(6, size=8).astype("float32") / 255
    models = [_model(seed) for seed in range(3)]
    models[2].save(tmp_path / "member.keras")
    (mean, members) = ensemble_predict(models[:2] + [tmp_path / "member.keras"], x, batch_size=4)
    expected = np.stack([m.predict(x, verbose=0) for m in models])
    assert members.shape == (3, 6, 3)
    np.testing.assert_allclose(members, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mean, expected.mean(axis=0), rtol=1e-5, atol=1e-6)
    assert not np.allclose(members[0], members[1])


def test_ensemble_predict_bad_input(tmp_path):
    x = _images(2, size=8).astype("float32")
    with pytest.raises(ValueError, match=r"models is empty: .*glob\('models/\*\.model'\).*model_\*\.keras\)\.$"):
        ensemble_predict([], x)
    with pytest.raises(ValueError, match="models"):
        ensemble_predict("one.keras", x)
    with pytest.raises(FileNotFoundError, match="missing.keras"):
        ensemble_predict([tmp_path / "missing.keras"], x)
    with pytest.raises(ValueError, match="same shape"):
        ensemble_predict([_model(0), _model(1, classes=4)], x)


def test_chapter6_script_names_the_books_model_files_when_it_finds_no_keras_file(tmp_path):
    import importlib.util
    from pathlib import Path

    script = Path(__file__).parents[1] / "examples" / "ch06_ensembles" / "test_ensemble.py"
    spec = importlib.util.spec_from_file_location("ch06_test_ensemble", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for i in range(3):  # the book's train_models.py wrote models/model_{i}.model
        (tmp_path / f"model_{i}.model").write_bytes(b"\x89HDF\r\n\x1a\n")
    args = module.build_parser().parse_args(["--models", str(tmp_path), "--cifar-dir", str(tmp_path)])
    with pytest.raises(FileNotFoundError) as caught:
        module.run(args)
    message = str(caught.value)
    assert "no model_*.keras files in --models" in message and "\n" not in message
    assert "its 3 *.model files are the book's Keras 2 saves" in message and "train_models.py" in message
