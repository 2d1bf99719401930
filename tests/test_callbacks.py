import json
import os

import keras
import numpy as np
import pytest

from pyimagesearch.callbacks import EpochCheckpoint, TrainingMonitor
from pyimagesearch.utils import load_checkpoint


def _files(folder):
    """The folder's files but the lock file, which stays in every folder a run wrote into."""
    return sorted(name for name in os.listdir(folder) if name != ".pyimagesearch.lock")


def _data(n=16, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64")


def _model(learning_rate=0.05):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _history(path):
    with open(path) as f:
        return json.load(f)


def test_monitor_and_checkpoint_then_resume(tmp_path, capsys):
    (x, y) = _data()
    (fig, history, checkpoints) = (tmp_path / "plot.png", tmp_path / "h.json", tmp_path / "ckpt")
    model = _model()
    model.fit(x, y, validation_data=(x, y), epochs=3, batch_size=8, verbose=0, callbacks=[
        TrainingMonitor(str(fig), jsonPath=str(history)),
        EpochCheckpoint(str(checkpoints), every=1),
    ])
    first = _history(history)
    assert set(first) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(values) == 3 for values in first.values())
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert _files(checkpoints) == ["epoch_1.keras", "epoch_2.keras", "epoch_3.keras"]

    resumed = load_checkpoint(str(checkpoints / "epoch_2.keras"), learning_rate=0.01)
    assert float(keras.ops.convert_to_numpy(resumed.optimizer.learning_rate)) == pytest.approx(0.01)
    assert keras.ops.convert_to_numpy(resumed.optimizer.iterations) == 4  # optimizer state came back
    output = capsys.readouterr().out
    assert "old learning rate: 0.05" in output and "new learning rate: 0.01" in output
    np.testing.assert_allclose(resumed.predict(x, verbose=0),
                               keras.models.load_model(checkpoints / "epoch_2.keras").predict(x, verbose=0))

    resumed.fit(x, y, validation_data=(x, y), epochs=2, batch_size=8, verbose=0, callbacks=[
        TrainingMonitor(str(fig), jsonPath=str(history), startAt=2),
        EpochCheckpoint(str(checkpoints), every=1, startAt=2),
    ])
    second = _history(history)
    assert all(len(values) == 4 for values in second.values())
    assert second["loss"][:2] == first["loss"][:2]
    assert second["loss"][2] != first["loss"][2]
    assert _files(checkpoints) == [f"epoch_{n}.keras" for n in range(1, 5)]
    assert not [f for f in os.listdir(tmp_path) if ".tmp" in f]


def test_checkpoint_every_counts_from_start_at(tmp_path):
    (x, y) = _data()
    _model().fit(x, y, epochs=5, verbose=0, callbacks=[EpochCheckpoint(tmp_path / "c", every=3, startAt=1)])
    assert _files(tmp_path / "c") == ["epoch_3.keras", "epoch_6.keras"]


def test_monitor_without_validation_and_with_learning_rate(tmp_path):
    (x, y) = _data()
    monitor = TrainingMonitor(tmp_path / "p.png", jsonPath=tmp_path / "h.json")
    scheduler = keras.callbacks.LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1))
    _model().fit(x, y, epochs=2, verbose=0, callbacks=[scheduler, monitor])
    history = _history(tmp_path / "h.json")
    assert "val_loss" not in history
    assert history["learning_rate"] == pytest.approx([0.1, 0.05])
    assert (tmp_path / "p.png").stat().st_size > 0
    labels = [line.get_label() for axes in monitor.plot().axes for line in axes.get_lines()]
    assert labels == ["train_loss", "train_accuracy"]


def test_monitor_start_at_zero_ignores_old_history_and_warns_when_missing(tmp_path):
    (x, y) = _data()
    (tmp_path / "h.json").write_text(json.dumps({"loss": [9.0, 9.0, 9.0]}))
    with pytest.warns(UserWarning, match="holds 3 epochs"):
        _model().fit(x, y, epochs=1, verbose=0, callbacks=[TrainingMonitor(None, tmp_path / "h.json")])
    assert len(_history(tmp_path / "h.json")["loss"]) == 1
    with pytest.warns(UserWarning, match="does not exist"):
        _model().fit(x, y, epochs=1, verbose=0,
                     callbacks=[TrainingMonitor(None, tmp_path / "missing.json", startAt=3)])


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="startAt"):
        TrainingMonitor(tmp_path / "p.png", startAt=-1)
    with pytest.raises(ValueError, match="figPath"):
        TrainingMonitor(None)
    with pytest.raises(ValueError, match="every"):
        EpochCheckpoint(tmp_path, every=0)
    with pytest.raises(ValueError, match="startAt"):
        EpochCheckpoint(tmp_path, startAt=-2)
    with pytest.raises(FileNotFoundError, match="nope.keras"):
        load_checkpoint(tmp_path / "nope.keras")
    model = _model()
    model.save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match="learning_rate"):
        load_checkpoint(tmp_path / "m.keras", learning_rate=-1)
    bare = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    bare.save(tmp_path / "bare.keras")
    with pytest.raises(ValueError, match="without an optimizer"):
        load_checkpoint(tmp_path / "bare.keras", learning_rate=0.1)
    assert getattr(load_checkpoint(tmp_path / "bare.keras"), "optimizer", None) is None


def test_monitor_records_learning_rate_whatever_the_callback_order(tmp_path):
    (x, y) = _data()
    monitor = TrainingMonitor(None, jsonPath=tmp_path / "h.json")
    scheduler = keras.callbacks.LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1))
    _model().fit(x, y, epochs=2, verbose=0, callbacks=[monitor, scheduler])
    assert _history(tmp_path / "h.json")["learning_rate"] == pytest.approx([0.1, 0.05])


def test_checkpoint_save_last_off_the_grid(tmp_path):
    (x, y) = _data()
    checkpoint = EpochCheckpoint(tmp_path / "c", every=5, startAt=2, saveLast=True)
    _model().fit(x, y, epochs=4, verbose=0, callbacks=[checkpoint])
    assert _files(tmp_path / "c") == ["epoch_5.keras", "epoch_6.keras"]
    assert checkpoint.lastPath == str(tmp_path / "c" / "epoch_6.keras")
    plain = EpochCheckpoint(tmp_path / "d", every=5)
    _model().fit(x, y, epochs=2, verbose=0, callbacks=[plain])
    assert _files(tmp_path / "d") == [] and plain.lastPath is None  # only the (released) lock file


def test_resume_epoch():
    from pyimagesearch.utils import resume_epoch

    assert resume_epoch() == 0
    assert resume_epoch("checkpoints/epoch_25.keras") == 25
    assert resume_epoch("checkpoints/anything.keras", startEpoch=40) == 40
    with pytest.raises(ValueError, match="pass --start-epoch"):
        resume_epoch("checkpoints/best.keras")
    with pytest.raises(ValueError, match="must be 0 for a new network"):
        resume_epoch(None, startEpoch=3)
    with pytest.raises(ValueError, match="must be 0 for a new network"):
        resume_epoch("checkpoints/epoch_2.keras", startEpoch=-1)


def test_checkpoint_writes_the_books_hdf5_names_and_resumes_with_optimizer_state(tmp_path):
    (x, y) = _data()
    model = _model()
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    checkpoints = tmp_path / "checkpoints"
    model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0,
              callbacks=[EpochCheckpoint(checkpoints, every=1, extension=".hdf5")])
    assert _files(checkpoints) == ["epoch_1.hdf5", "epoch_2.hdf5"]
    resumed = load_checkpoint(checkpoints / "epoch_2.hdf5", verbose=0)
    assert keras.ops.convert_to_numpy(resumed.optimizer.iterations) == 4
    expected = model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0).history["loss"]
    again = resumed.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(again, expected, rtol=1e-5)  # momentum came back too


def test_load_checkpoint_names_the_checkpoint_beside_a_missing_one(tmp_path):
    from pyimagesearch.utils import resume_epoch

    (tmp_path / "epoch_25.keras").write_bytes(b"")
    (tmp_path / "epoch_30.hdf5").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=r"epoch_25\.hdf5.*epoch_25\.keras' exists"):
        load_checkpoint(tmp_path / "epoch_25.hdf5")
    with pytest.raises(FileNotFoundError, match=r"epoch_30\.keras.*epoch_30\.hdf5' exists"):
        load_checkpoint(tmp_path / "epoch_30.keras")
    with pytest.raises(FileNotFoundError, match="no such checkpoint file.$"):
        load_checkpoint(tmp_path / "epoch_35.keras")
    assert resume_epoch("checkpoints/epoch_25.hdf5") == 25
    assert resume_epoch("checkpoints/epoch_7.h5") == 7
    with pytest.raises(ValueError, match="extension"):
        EpochCheckpoint(tmp_path, extension=".model")


_KILLED_AFTER_CHECKPOINT = """
import os, sys
import numpy as np
import keras
from pyimagesearch.callbacks import EpochCheckpoint, TrainingMonitor

class KillAfterCheckpoint(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:  # epoch_2.keras is saved: die before the callbacks after this one
            os._exit(17)

folder = sys.argv[1]
rng = np.random.default_rng(0)
x = rng.normal(size=(16, 4)).astype("float32")
y = (x[:, 0] > 0).astype("int64")
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[
    EpochCheckpoint(os.path.join(folder, "checkpoints"), every=1), KillAfterCheckpoint(),
    TrainingMonitor(None, jsonPath=os.path.join(folder, "history.json"))])
"""


def _published(folder):
    return sorted(name for name in os.listdir(folder) if not name.startswith("."))


def test_kill_between_checkpoint_and_history_leaves_a_continuous_history(tmp_path):
    import subprocess
    import sys
    import warnings

    script = tmp_path / "train.py"
    script.write_text(_KILLED_AFTER_CHECKPOINT)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    result = subprocess.run([sys.executable, str(script), str(tmp_path)], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 17, result.stderr[-2000:]
    # the checkpoint listed first saved epoch 2, but renames it only after every
    # callback's on_epoch_end: the kill came first, so epoch 2 is not published
    assert _published(tmp_path / "checkpoints") == ["epoch_1.keras"]
    before = _history(tmp_path / "history.json")
    assert len(before["loss"]) == 1
    assert (tmp_path / "checkpoints" / ".pyimagesearch.lock").exists()  # the dead run's

    (x, y) = _data()
    resumed = load_checkpoint(tmp_path / "checkpoints" / "epoch_1.keras", verbose=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resumed.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[
            EpochCheckpoint(tmp_path / "checkpoints", every=1, startAt=1),
            TrainingMonitor(None, jsonPath=tmp_path / "history.json", startAt=1)])
    assert not [w for w in caught if "TrainingMonitor" in str(w.message)]
    after = _history(tmp_path / "history.json")
    assert len(after["loss"]) == 2 and after["loss"][:1] == before["loss"]
    # the dead run's temporary is gone; the lock file stays (the system released the lock)
    assert sorted(os.listdir(tmp_path / "checkpoints")) == [".pyimagesearch.lock", "epoch_1.keras", "epoch_2.keras"]
    assert [f for f in os.listdir(tmp_path) if f.startswith(".")] == [".pyimagesearch.lock"]


class _RaiseAtEpochEnd(keras.callbacks.Callback):
    def __init__(self, seen):
        super().__init__()
        self.seen = seen

    def on_epoch_end(self, epoch, logs=None):
        self.seen.append(_files(self.seen[0]))
        raise RuntimeError("a callback after the checkpoint failed")


def test_checkpoint_is_published_after_every_epoch_end_whatever_the_order(tmp_path):
    (x, y) = _data()
    monitor = TrainingMonitor(None, jsonPath=tmp_path / "h.json")
    _model().fit(x, y, epochs=3, verbose=0, callbacks=[
        EpochCheckpoint(tmp_path / "c", every=2), monitor])
    assert [len(v) for v in _history(tmp_path / "h.json").values()] == [3] * len(monitor.H)
    assert _files(tmp_path / "c") == ["epoch_2.keras"]

    checkpoint = EpochCheckpoint(tmp_path / "d", every=1)
    seen = [tmp_path / "d"]
    with pytest.raises(RuntimeError, match="after the checkpoint failed"):
        _model().fit(x, y, epochs=2, verbose=0, callbacks=[checkpoint, _RaiseAtEpochEnd(seen)])
    (during,) = seen[1:]
    assert [name for name in during if not name.startswith(".")] == []  # saved, not published
    assert checkpoint.lastPath is None and not _published(tmp_path / "d")
    _model().fit(x, y, epochs=1, verbose=0, callbacks=[checkpoint])  # the same callback again
    assert _files(tmp_path / "d") == ["epoch_2.keras"]  # the failed fit's file is gone


# The book's TrainingMonitor (Practitioner Bundle ch. 11 / Starter Bundle ch. 16),
# its history logic as printed; the plot is left out.
class _BookTrainingMonitor:
    def __init__(self, figPath, jsonPath=None, startAt=0):
        self.figPath = figPath
        self.jsonPath = jsonPath
        self.startAt = startAt

    def on_train_begin(self, logs={}):
        self.H = {}
        if self.jsonPath is not None:
            if os.path.exists(self.jsonPath):
                self.H = json.loads(open(self.jsonPath).read())
                if self.startAt > 0:
                    for k in self.H.keys():
                        self.H[k] = self.H[k][:self.startAt]

    def on_epoch_end(self, epoch, logs={}):
        for (k, v) in logs.items():
            l = self.H.get(k, [])
            l.append(v)
            self.H[k] = l
        if self.jsonPath is not None:
            f = open(self.jsonPath, "w")
            f.write(json.dumps(self.H))
            f.close()


def _run_monitor(monitor, epochs):
    monitor.on_train_begin()
    for (epoch, logs) in enumerate(epochs):
        monitor.on_epoch_end(epoch, logs)


def test_start_at_zero_over_an_existing_history_says_what_the_book_did(tmp_path):
    earlier = {"loss": [0.9, 0.8, 0.7], "accuracy": [0.5, 0.6, 0.7]}
    epochs = [{"loss": 0.6, "accuracy": 0.75}, {"loss": 0.5, "accuracy": 0.8}]
    for name in ("book.json", "new.json", "continued.json"):
        (tmp_path / name).write_text(json.dumps(earlier))
    _run_monitor(_BookTrainingMonitor(None, jsonPath=str(tmp_path / "book.json")), epochs)
    book = _history(tmp_path / "book.json")
    assert book["loss"] == [0.9, 0.8, 0.7, 0.6, 0.5]  # the book appended to the earlier run

    path = str(tmp_path / "new.json")
    with pytest.warns(UserWarning) as caught:
        _run_monitor(TrainingMonitor(None, jsonPath=path), epochs)
    (warning,) = [w for w in caught if "TrainingMonitor" in str(w.message)]
    message = str(warning.message)
    assert repr(path) in message and "holds 3 epochs" in message and "startAt=3" in message
    assert "appended" in message  # the book's behaviour, named
    assert _history(path)["loss"] == [0.6, 0.5]

    continued = str(tmp_path / "continued.json")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _run_monitor(TrainingMonitor(None, jsonPath=continued, startAt=3), epochs)
    assert _history(continued) == book  # startAt=3 gives the book's file


def _sgd_model():
    model = _model()
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9),
                  loss="sparse_categorical_crossentropy")
    return model


def _assert_sgd_kept(path, iterations, live=None):
    optimizer = keras.models.load_model(path).optimizer
    assert type(optimizer).__name__ == "SGD"
    assert float(keras.ops.convert_to_numpy(optimizer.learning_rate)) == pytest.approx(0.05)
    assert optimizer.momentum == pytest.approx(0.9)
    assert int(keras.ops.convert_to_numpy(optimizer.iterations)) == iterations
    if live is not None:  # the momentum buffers too
        for (saved, kept) in zip(optimizer.variables, live.optimizer.variables, strict=True):
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(saved),
                                          keras.ops.convert_to_numpy(kept))


def test_a_keras_save_after_the_hdf5_checkpoints_keeps_the_optimizer(tmp_path):
    from pyimagesearch.utils.checkpoints import save_model

    (x, y) = _data()
    model = _sgd_model()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0,
              callbacks=[EpochCheckpoint(tmp_path / "c", every=1, extension=".hdf5")])
    model.save(tmp_path / "final.keras")  # the book's last line, after .hdf5 checkpoints
    _assert_sgd_kept(tmp_path / "final.keras", 2, live=model)

    model = _sgd_model()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "mine.h5")  # the reader's own legacy save loses it for model.save
    save_model(model, tmp_path / "repaired.keras")
    _assert_sgd_kept(tmp_path / "repaired.keras", 2, live=model)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0,
              callbacks=[EpochCheckpoint(tmp_path / "k", every=1, startAt=1)])
    _assert_sgd_kept(tmp_path / "k" / "epoch_2.keras", 4)


_HOLD_FOLDER = """
import sys
from pyimagesearch.infra.locks import FolderLock
lock = FolderLock(sys.argv[1], purpose="training run").acquire()
print("held", flush=True)
sys.stdin.read()
"""


def test_a_second_run_into_the_same_folder_refuses_naming_the_first(tmp_path):
    import signal
    import socket
    import subprocess
    import sys

    from pyimagesearch.callbacks import FolderInUseError
    from pyimagesearch.cli import describe_error

    folder = tmp_path / "run"
    env = dict(os.environ, KERAS_BACKEND="numpy")  # the holder needs no engine
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_FOLDER, str(folder)], env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        (x, y) = _data()
        for callbacks in ([EpochCheckpoint(folder, every=1)],
                          [TrainingMonitor(folder / "plot.png", jsonPath=folder / "h.json")]):
            with pytest.raises(FolderInUseError) as refused:
                _model().fit(x, y, epochs=1, verbose=0, callbacks=callbacks)
            line = describe_error(refused.value)
            assert f"another training run (pid {holder.pid} on host {socket.gethostname()!r}" in line
            assert str(folder) in line and "\n" not in line
        assert os.listdir(folder) == [".pyimagesearch.lock"]  # nothing written beside it
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=60)
    # the system released the killed holder's lock; the lock file stays
    _model().fit(x, y, epochs=1, verbose=0, callbacks=[
        EpochCheckpoint(folder, every=1), TrainingMonitor(folder / "plot.png", jsonPath=folder / "h.json")])
    assert sorted(os.listdir(folder)) == [".pyimagesearch.lock", "epoch_1.keras", "h.json", "plot.png"]


def test_a_damaged_checkpoint_is_named(tmp_path):
    import zipfile

    model = _model()
    model.save(tmp_path / "m.keras")
    model.save(tmp_path / "m.hdf5")
    whole = (tmp_path / "m.keras").read_bytes()
    (tmp_path / "truncated.keras").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "empty.keras").write_bytes(b"")
    with zipfile.ZipFile(tmp_path / "noconfig.keras", "w") as archive:
        archive.writestr("model.weights.h5", b"")
    legacy = (tmp_path / "m.hdf5").read_bytes()
    (tmp_path / "truncated.hdf5").write_bytes(legacy[: len(legacy) // 2])
    for (name, expected) in [("truncated.keras", "not a complete zip"), ("empty.keras", "not a complete zip"),
                             ("noconfig.keras", "no config.json"), ("truncated.hdf5", "damaged")]:
        with pytest.raises(ValueError, match=expected) as error:
            load_checkpoint(tmp_path / name, verbose=0)
        assert repr(str(tmp_path / name)) in str(error.value)


def test_a_damaged_history_is_named(tmp_path):
    (tmp_path / "broken.json").write_text('{"loss": [0.5, 0.4')
    (tmp_path / "list.json").write_text('[0.5, 0.4]')
    (x, y) = _data()
    for name in ("broken.json", "list.json"):
        with pytest.raises(ValueError, match="not a .*TrainingMonitor history") as error:
            _model().fit(x, y, epochs=1, verbose=0,
                         callbacks=[TrainingMonitor(None, jsonPath=tmp_path / name, startAt=1)])
        assert repr(str(tmp_path / name)) in str(error.value)


def test_a_plot_path_needs_a_format_matplotlib_writes(tmp_path):
    (x, y) = _data()
    with pytest.raises(ValueError, match=r"figPath .*plot\.tmp.*cannot write '\.tmp'.*\.png"):
        TrainingMonitor(tmp_path / "plot.tmp")
    _model().fit(x, y, epochs=1, verbose=0, callbacks=[TrainingMonitor(tmp_path / "plot")])
    assert (tmp_path / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # as the book's savefig
