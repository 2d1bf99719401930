import os
import pickle
import zipfile

import h5py
import numpy as np
import pytest
import skops.io
from datagen import RunsCode

from pyimagesearch.cli import main
from pyimagesearch.utils import evaluate_classifier, load_classifier, rank5_accuracy, train_classifier

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
    result = train_classifier(str(db), str(tmp_path / "model.skops"), jobs=1, verbose=0)
    assert set(result["best_params"]) == {"C"}
    assert "panda" in result["report"]
    # a skops file, holding only types skops trusts: loading it runs no code
    assert zipfile.is_zipfile(tmp_path / "model.skops")
    assert skops.io.get_untrusted_types(file=tmp_path / "model.skops") == []
    model = load_classifier(tmp_path / "model.skops")
    assert type(model).__name__ == "LogisticRegression" and model.label_names_ == NAMES
    expected = float(np.mean(model.predict(features[45:]) == labels[45:]))
    assert result["accuracy"] == pytest.approx(expected) and expected > 0.8
    (rank1, rank5) = evaluate_classifier(str(db), str(tmp_path / "model.skops"))
    assert (rank1, rank5) == rank5_accuracy(model.predict_proba(features[45:]), labels[45:])
    assert rank5 == 1.0


def test_cli_train_classifier_and_rank_accuracy(tmp_path, capsys):
    db = tmp_path / "features.hdf5"
    _features(db)
    model = str(tmp_path / "m.skops")
    assert main(["train-classifier", "--db", str(db), "--model", model, "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "best hyperparameters" in out and "dog" in out and "accuracy" in out
    assert "(skops format)" in out
    assert main(["rank-accuracy", "--db", str(db), "--model", model]) == 0
    out = capsys.readouterr().out
    # 3 classes: rank-5 is always 100%, so it is not shown, and the output says why
    assert "rank-1:" in out and "rank-5:" not in out
    assert "rank-5 not shown: with 3 classes (5 or fewer) it is always 100%" in out


def test_cli_rank_accuracy_shows_rank5_beyond_five_classes(tmp_path, capsys):
    db = tmp_path / "features.hdf5"
    _features(db, n=120, dims=8, names=["a", "b", "c", "d", "e", "f"])
    model = str(tmp_path / "m.skops")
    assert main(["train-classifier", "--db", str(db), "--model", model, "--jobs", "1"]) == 0
    capsys.readouterr()
    assert main(["rank-accuracy", "--db", str(db), "--model", model]) == 0
    out = capsys.readouterr().out
    assert "rank-1:" in out and "rank-5:" in out and "not shown" not in out


def _book_pickle(db, path):
    """The book's train_model.py output: a pickled LogisticRegression."""
    from sklearn.linear_model import LogisticRegression

    with h5py.File(db, "r") as f:
        model = LogisticRegression().fit(f["features"][:45], f["labels"][:45])
    with open(path, "wb") as f:
        pickle.dump(model, f)
    return model


def test_book_pickle_loads_only_with_trust_pickle(tmp_path, capsys):
    db = tmp_path / "features.hdf5"
    (features, labels) = _features(db)
    model = _book_pickle(db, tmp_path / "book.cpickle")
    with pytest.raises(ValueError, match=r"book.cpickle' is a pickle.*--trust-pickle"):
        evaluate_classifier(db, tmp_path / "book.cpickle")
    expected = rank5_accuracy(model.predict_proba(features[45:]), labels[45:])
    assert evaluate_classifier(db, tmp_path / "book.cpickle", trust_pickle=True) == expected

    argv = ["rank-accuracy", "--db", str(db), "--model", str(tmp_path / "book.cpickle")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("pyimagesearch rank-accuracy: error: model ") and err.count("\n") == 1
    assert "--trust-pickle" in err
    assert main(argv + ["--trust-pickle"]) == 0
    assert "rank-1:" in capsys.readouterr().out


def test_crafted_pickle_runs_no_code_without_trust(tmp_path, capsys):
    db = tmp_path / "features.hdf5"
    _features(db)
    marker = tmp_path / "code-ran"
    with open(tmp_path / "evil.pickle", "wb") as f:
        pickle.dump(RunsCode(marker), f)
    assert main(["rank-accuracy", "--db", str(db), "--model", str(tmp_path / "evil.pickle")]) == 2
    assert "is a pickle" in capsys.readouterr().err
    assert not marker.exists()


def test_skops_file_with_untrusted_types_is_refused(tmp_path, capsys):
    db = tmp_path / "features.hdf5"
    _features(db)
    marker = tmp_path / "code-ran"
    skops.io.dump({"model": RunsCode(marker)}, tmp_path / "evil.skops")
    assert skops.io.get_untrusted_types(file=tmp_path / "evil.skops")  # the premise
    with pytest.raises(ValueError, match="holds types outside the classifier's trusted set"):
        load_classifier(tmp_path / "evil.skops")
    assert main(["rank-accuracy", "--db", str(db), "--model", str(tmp_path / "evil.skops")]) == 2
    err = capsys.readouterr().err
    assert "evil.skops" in err and "RunsCode" in err and err.count("\n") == 1
    assert not marker.exists()


@pytest.mark.parametrize("content, trust, match", [
    (b"this is not a model", False, "not a skops file"),
    (b"this is not a model", True, "not a readable pickle"),
    (b"\x80\x04junk", True, "not a readable pickle"),
    ("zip", False, "a zip archive but not a skops file"),
])
def test_unreadable_model_files_are_one_line(tmp_path, capsys, content, trust, match):
    db = tmp_path / "features.hdf5"
    _features(db)
    path = tmp_path / "model.bin"
    if content == "zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("notes.txt", "hello")
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=match):
        load_classifier(path, trust_pickle=trust)
    argv = ["rank-accuracy", "--db", str(db), "--model", str(path)] + (["--trust-pickle"] if trust else [])
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("pyimagesearch rank-accuracy: error: model ") and err.count("\n") == 1
    assert "model.bin" in err and match in err


@pytest.mark.parametrize("command", ["train-classifier", "rank-accuracy"])
def test_db_that_is_not_hdf5_is_one_line(tmp_path, capsys, command):
    db = tmp_path / "features.hdf5"
    db.write_bytes(b"not an HDF5 file at all")
    model = tmp_path / "m.skops"
    if command == "rank-accuracy":
        good = tmp_path / "good.hdf5"
        _features(good)
        train_classifier(good, model, jobs=1, verbose=0)
    assert main([command, "--db", str(db), "--model", str(model)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"error: db {str(db)!r} is not a readable HDF5 features file" in err
    assert "file signature not found" in err


def test_rank_accuracy_maps_columns_to_label_indices(tmp_path):
    from sklearn.linear_model import LogisticRegression

    db = tmp_path / "features.hdf5"
    (features, labels) = _features(db, names=NAMES + ["owl"])
    seen = labels[:45] != 1  # the model never saw class 1
    model = LogisticRegression().fit(features[:45][seen], labels[:45][seen])
    skops.io.dump(model, tmp_path / "m.skops")
    probs = np.zeros((15, 4))
    probs[:, model.classes_] = model.predict_proba(features[45:])
    assert evaluate_classifier(db, tmp_path / "m.skops") == rank5_accuracy(probs, labels[45:])


def test_clear_errors(tmp_path, capsys):
    db = tmp_path / "features.hdf5"
    _features(db, label_names=False)
    with pytest.raises(ValueError, match="label_names"):
        train_classifier(db, tmp_path / "m.skops", jobs=1, verbose=0)
    assert main(["train-classifier", "--db", str(db), "--model", str(tmp_path / "m.skops")]) == 2
    assert "pyimagesearch train-classifier: error:" in capsys.readouterr().err
    assert not (tmp_path / "m.skops").exists()

    with pytest.raises(FileNotFoundError, match="missing.hdf5"):
        train_classifier(tmp_path / "missing.hdf5", tmp_path / "m.skops")
    good = tmp_path / "good.hdf5"
    _features(good)
    with pytest.raises(ValueError, match="split"):
        train_classifier(good, tmp_path / "m.skops", split=1.0)
    with pytest.raises(FileNotFoundError, match="m.skops"):
        evaluate_classifier(good, tmp_path / "m.skops")

    train_classifier(good, tmp_path / "m.skops", jobs=1, verbose=0)
    other = tmp_path / "other.hdf5"
    _features(other, names=["car", "bus", "van"])
    with pytest.raises(ValueError, match="trained on classes"):
        evaluate_classifier(other, tmp_path / "m.skops")
    wide = tmp_path / "wide.hdf5"
    _features(wide, dims=7)
    with pytest.raises(ValueError, match="features per row"):
        evaluate_classifier(wide, tmp_path / "m.skops")
    assert main(["rank-accuracy", "--db", str(other), "--model", str(tmp_path / "m.skops")]) == 2
    assert "pyimagesearch rank-accuracy: error:" in capsys.readouterr().err

    single = tmp_path / "single.hdf5"
    with h5py.File(single, "w") as f:
        f.create_dataset("features", data=np.zeros((8, 2)))
        f.create_dataset("labels", data=np.array([0] * 6 + [1] * 2))
        f.create_dataset("label_names", data=["a", "b"], dtype=h5py.string_dtype("utf-8"))
    with pytest.raises(ValueError, match="single class"):
        train_classifier(single, tmp_path / "s.skops", verbose=0)
    outside = tmp_path / "outside.hdf5"
    with h5py.File(outside, "w") as f:
        f.create_dataset("features", data=np.zeros((8, 2)))
        f.create_dataset("labels", data=np.arange(8) % 3)
        f.create_dataset("label_names", data=["a", "b"], dtype=h5py.string_dtype("utf-8"))
    with pytest.raises(ValueError, match="outside the 2 label_names"):
        train_classifier(outside, tmp_path / "s.skops", verbose=0)


def test_full_disk_while_saving_names_the_model_file(tmp_path, capsys, monkeypatch):
    db = tmp_path / "features.hdf5"
    _features(db)

    def full(model, path):
        with open(path, "wb") as handle:
            handle.write(b"PK")
        raise OSError(28, "No space left on device")  # as zipfile reports it: no file name

    monkeypatch.setattr(skops.io, "dump", full)
    model = tmp_path / "m.skops"
    assert main(["train-classifier", "--db", str(db), "--model", str(model), "--jobs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.endswith(f"error: no space left on the device writing {str(model)!r}: "
                        "free some space or write to another disk.\n")
    assert os.listdir(tmp_path) == ["features.hdf5"]  # no model, no temporary file


@pytest.mark.parametrize("command", ["train-classifier", "rank-accuracy"])
def test_corrupted_features_file_is_one_line_naming_it(tmp_path, capsys, command):
    good = tmp_path / "good.hdf5"
    (features, labels) = _features(good)
    model = tmp_path / "m.skops"
    if command == "rank-accuracy":
        train_classifier(good, model, jobs=1, verbose=0)
    db = tmp_path / "features.hdf5"
    with h5py.File(db, "w") as out:  # as HDF5DatasetWriter stores them: fletcher32 per chunk
        out.create_dataset("features", data=features.astype("float32"), chunks=(10, 5), fletcher32=True)
        out.create_dataset("labels", data=labels)
        out.create_dataset("label_names", data=NAMES, dtype=h5py.string_dtype("utf-8"))
        offset = out["features"].id.get_chunk_info(5).byte_offset  # rows 50-59: test rows
    data = bytearray(db.read_bytes())
    data[offset + 7] ^= 0xFF
    db.write_bytes(bytes(data))
    jobs = ["--jobs", "1"] if command == "train-classifier" else []
    assert main([command, "--db", str(db), "--model", str(model), *jobs]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"error: db {str(db)!r} is corrupted: reading it failed (" in err and "extract the features again" in err
