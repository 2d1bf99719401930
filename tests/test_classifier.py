import pickle

import h5py
import numpy as np
import pytest

from pyimagesearch.cli import main
from pyimagesearch.utils import evaluate_classifier, rank5_accuracy, train_classifier

NAMES = ["cat", "dog", "panda"]


def _features(path, n=60, dims=5, names=NAMES, label_names=True, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(names), n)
    features = rng.normal(size=(n, dims)) + 3 * np.eye(len(names), dims)[labels]
    with h5py.File(path, "w") as db:
        db.create_dataset("features", data=features.astype("float32"))
        db.create_dataset("labels", data=labels)
        if label_names:
            db.create_dataset("label_names", data=names, dtype=h5py.string_dtype("utf-8"))
    return features, labels


def test_train_then_rank_accuracy(tmp_path):
    db = tmp_path / "features.hdf5"
    (features, labels) = _features(db)
    result = train_classifier(str(db), str(tmp_path / "model.pickle"), jobs=1, verbose=0)
    assert set(result["best_params"]) == {"C"}
    assert "panda" in result["report"]
    with open(tmp_path / "model.pickle", "rb") as f:
        model = pickle.load(f)
    assert model.label_names_ == NAMES
    expected = float(np.mean(model.predict(features[45:]) == labels[45:]))
    assert result["accuracy"] == pytest.approx(expected) and expected > 0.8
    (rank1, rank5) = evaluate_classifier(str(db), str(tmp_path / "model.pickle"))
    assert (rank1, rank5) == rank5_accuracy(model.predict_proba(features[45:]), labels[45:])
    assert rank5 == 1.0


def test_cli_train_classifier_and_rank_accuracy(tmp_path, capsys):
    db = tmp_path / "features.hdf5"
    _features(db)
    model = str(tmp_path / "m.pickle")
    assert main(["train-classifier", "--db", str(db), "--model", model, "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "best hyperparameters" in out and "dog" in out and "accuracy" in out
    assert main(["rank-accuracy", "--db", str(db), "--model", model]) == 0
    out = capsys.readouterr().out
    assert "rank-1:" in out and "rank-5: 100.00%" in out


def test_rank_accuracy_maps_columns_to_label_indices(tmp_path):
    from sklearn.linear_model import LogisticRegression

    db = tmp_path / "features.hdf5"
    (features, labels) = _features(db, names=NAMES + ["owl"])
    seen = labels[:45] != 1  # the model never saw class 1
    model = LogisticRegression().fit(features[:45][seen], labels[:45][seen])
    with open(tmp_path / "m.pickle", "wb") as f:
        pickle.dump(model, f)
    probs = np.zeros((15, 4))
    probs[:, model.classes_] = model.predict_proba(features[45:])
    assert evaluate_classifier(db, tmp_path / "m.pickle") == rank5_accuracy(probs, labels[45:])


def test_clear_errors(tmp_path, capsys):
    db = tmp_path / "features.hdf5"
    _features(db, label_names=False)
    with pytest.raises(ValueError, match="label_names"):
        train_classifier(db, tmp_path / "m.pickle", jobs=1, verbose=0)
    assert main(["train-classifier", "--db", str(db), "--model", str(tmp_path / "m.pickle")]) == 2
    assert "pyimagesearch train-classifier: error:" in capsys.readouterr().err
    assert not (tmp_path / "m.pickle").exists()

    with pytest.raises(FileNotFoundError, match="missing.hdf5"):
        train_classifier(tmp_path / "missing.hdf5", tmp_path / "m.pickle")
    good = tmp_path / "good.hdf5"
    _features(good)
    with pytest.raises(ValueError, match="split"):
        train_classifier(good, tmp_path / "m.pickle", split=1.0)
    with pytest.raises(FileNotFoundError, match="m.pickle"):
        evaluate_classifier(good, tmp_path / "m.pickle")

    train_classifier(good, tmp_path / "m.pickle", jobs=1, verbose=0)
    other = tmp_path / "other.hdf5"
    _features(other, names=["car", "bus", "van"])
    with pytest.raises(ValueError, match="trained on classes"):
        evaluate_classifier(other, tmp_path / "m.pickle")
    wide = tmp_path / "wide.hdf5"
    _features(wide, dims=7)
    with pytest.raises(ValueError, match="features per row"):
        evaluate_classifier(wide, tmp_path / "m.pickle")
    assert main(["rank-accuracy", "--db", str(other), "--model", str(tmp_path / "m.pickle")]) == 2
    assert "pyimagesearch rank-accuracy: error:" in capsys.readouterr().err

    single = tmp_path / "single.hdf5"
    with h5py.File(single, "w") as f:
        f.create_dataset("features", data=np.zeros((8, 2)))
        f.create_dataset("labels", data=np.array([0] * 6 + [1] * 2))
        f.create_dataset("label_names", data=["a", "b"], dtype=h5py.string_dtype("utf-8"))
    with pytest.raises(ValueError, match="single class"):
        train_classifier(single, tmp_path / "s.pickle", verbose=0)
    outside = tmp_path / "outside.hdf5"
    with h5py.File(outside, "w") as f:
        f.create_dataset("features", data=np.zeros((8, 2)))
        f.create_dataset("labels", data=np.arange(8) % 3)
        f.create_dataset("label_names", data=["a", "b"], dtype=h5py.string_dtype("utf-8"))
    with pytest.raises(ValueError, match="outside the 2 label_names"):
        train_classifier(outside, tmp_path / "s.pickle", verbose=0)
