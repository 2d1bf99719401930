"""The shared argument checks: types, bounds and the messages callers match on."""

import re

import numpy as np
import pytest

from pyimagesearch.infra.validation import check_choice, check_host_port, check_int, check_number


@pytest.mark.parametrize("value", [1, 7, np.int64(3), np.uint8(2), np.int32(1)])
def test_check_int_accepts_python_and_numpy_integers(value):
    result = check_int(value, "n")
    assert result == int(value) and type(result) is int


@pytest.mark.parametrize("value", [True, False, np.bool_(True), 2.0, 2.5, "3", None, np.float64(2)])
def test_check_int_refuses_non_integers(value):
    with pytest.raises(ValueError, match=re.escape(f"n must be a positive integer, got {value!r}.")):
        check_int(value, "n")


@pytest.mark.parametrize("minimum, maximum, bad, phrase", [
    (1, None, 0, "a positive integer"),
    (0, None, -1, "a non-negative integer"),
    (8, None, 7, "an integer >= 8"),
    (0, 1, 2, "an integer in [0, 1]"),
    (0, 1, -1, "an integer in [0, 1]"),
])
def test_check_int_bounds_and_messages(minimum, maximum, bad, phrase):
    with pytest.raises(ValueError, match=re.escape(f"batchSize must be {phrase}, got {bad!r}.")):
        check_int(bad, "batchSize", minimum=minimum, maximum=maximum)
    assert check_int(minimum, "batchSize", minimum=minimum, maximum=maximum) == minimum
    if maximum is not None:
        assert check_int(maximum, "batchSize", minimum=minimum, maximum=maximum) == maximum


def test_check_int_allow_none():
    assert check_int(None, "max_pixels", allow_none=True) is None
    assert check_int(np.int64(5), "max_pixels", allow_none=True) == 5
    with pytest.raises(ValueError, match=re.escape("max_pixels must be a positive integer or None, got 0.")):
        check_int(0, "max_pixels", allow_none=True)


@pytest.mark.parametrize("value", [0, 0.5, np.float32(0.25), np.int64(3), float("inf")])
def test_check_number_accepts_reals(value):
    result = check_number(value, "reg", minimum=0)
    assert result == float(value) and type(result) is float


@pytest.mark.parametrize("value", [True, "0.1", None, 1j, float("nan"), -0.1])
def test_check_number_refuses(value):
    with pytest.raises(ValueError, match=re.escape(f"reg must be a non-negative number, got {value!r}.")):
        check_number(value, "reg", minimum=0)


@pytest.mark.parametrize("kwargs, good, bad, phrase", [
    (dict(minimum=0, include_minimum=False), 1e-9, 0, "a positive number"),
    (dict(minimum=0, maximum=1, include_maximum=False), 0, 1.0, "a number in [0, 1)"),
    (dict(minimum=0, maximum=1, include_minimum=False, include_maximum=False), 0.5, 0, "a number in (0, 1)"),
    (dict(minimum=0, maximum=1), 1, 1.5, "a number in [0, 1]"),
    (dict(minimum=2), 2, 1.5, "a number >= 2"),
    (dict(maximum=3, include_maximum=False), 2.5, 3, "a number < 3"),
])
def test_check_number_bounds_and_messages(kwargs, good, bad, phrase):
    assert check_number(good, "x", **kwargs) == good
    with pytest.raises(ValueError, match=re.escape(f"x must be {phrase}, got {bad!r}.")):
        check_number(bad, "x", **kwargs)


def test_check_number_without_bounds_still_refuses_bools():
    assert check_number(-3, "x") == -3.0
    with pytest.raises(ValueError, match=re.escape("x must be a real number, got False.")):
        check_number(False, "x")


def test_check_choice():
    assert check_choice("cifar", "dataset", ("cifar", "tiny_imagenet")) == "cifar"
    assert check_choice(None, "dataFormat", ("channels_last", None)) is None
    with pytest.raises(ValueError, match=re.escape(
            "dataset must be one of ('cifar', 'tiny_imagenet'), got 'imagenet'.")):
        check_choice("imagenet", "dataset", ("cifar", "tiny_imagenet"))
    # an unhashable value against a set is refused with the same message, not a TypeError
    with pytest.raises(ValueError, match=re.escape("mode must be one of {'a'}, got ['a'].")):
        check_choice(["a"], "mode", {"a"})


@pytest.mark.parametrize("value, expected", [
    ("gpu1:1234", ("gpu1", 1234)), ("10.0.0.2:1", ("10.0.0.2", 1)), ("[::1]:65534", ("::1", 65534)),
    ("[fe80::1%eth0]:80", ("fe80::1%eth0", 80)),
])
def test_check_host_port_splits_an_address(value, expected):
    assert check_host_port(value, "coordinator", max_port=65534) == expected


@pytest.mark.parametrize("value, problem", [
    ("gpu1", "no port"), ("gpu1:", "port '' is not a number"), (":1234", "an empty host"),
    ("  :1234", "an empty host"), ("[]:1234", "an empty host"), ("gpu1:0", "port 0 is outside 1..65534"),
    ("gpu1:65535", "port 65535 is outside 1..65534"), ("gpu1:65536", "port 65536 is outside"),
    ("::1:1234", "an IPv6 host goes in brackets"), ("[::1:1234", "an IPv6 host goes in brackets"),
    ("gpu1:port", "port 'port' is not a number"), ("gpu1:-5", "port '-5' is not a number"),
    ("gpu1:\u0663", "is not a number"), (None, "not a string but NoneType"),
])
def test_check_host_port_names_what_is_wrong(value, problem):
    with pytest.raises(ValueError) as refused:
        check_host_port(value, "--coordinator", max_port=65534)
    message = str(refused.value)
    assert message.startswith(f"--coordinator must be HOST:PORT with a port below 65535, got {value!r} (")
    assert problem in message and "\n" not in message


@pytest.mark.parametrize("address", ["  :1234", "::1:1234", "[::1:1234", "gpu1:\u0663"])
def test_a_cluster_refuses_an_address_that_one_parser_of_before_let_through(address):
    from pyimagesearch.distribute import Cluster

    with pytest.raises(ValueError, match="coordinator must be HOST:PORT"):
        Cluster(address, 2, 0).check()


def test_the_new_functions_take_snake_case_and_their_old_camel_case_keyword_with_a_warning(tmp_path):
    import h5py

    from pyimagesearch.utils import evaluate_classifier, train_classifier

    db = tmp_path / "features.hdf5"
    rng = np.random.default_rng(0)
    with h5py.File(db, "w") as f:
        labels = np.tile([0, 1], 20)
        f["vectors"] = rng.normal(size=(40, 4)) + 3.0 * labels[:, None]
        f["labels"] = labels
        f["label_names"] = np.array([b"a", b"b"])
    train_classifier(db, tmp_path / "m.skops", jobs=1, data_key="vectors", split=0.5,
                     params={"C": [1.0]}, verbose=0)
    expected = evaluate_classifier(db, tmp_path / "m.skops", split=0.5, data_key="vectors")
    with pytest.warns(DeprecationWarning, match="evaluate_classifier: dataKey= is now data_key="):
        assert evaluate_classifier(db, tmp_path / "m.skops", split=0.5, dataKey="vectors") == expected
    with pytest.raises(ValueError, match="data_key= and its old name dataKey= were both given"):
        evaluate_classifier(db, tmp_path / "m.skops", data_key="vectors", dataKey="vectors")


def test_extract_features_and_build_take_buf_size():
    import inspect

    from pyimagesearch.io import build_hdf5_splits, extract_features

    for function in (extract_features, build_hdf5_splits):
        parameters = inspect.signature(function).parameters
        assert parameters["buf_size"].default == 1000 and parameters["bufSize"].default is None
