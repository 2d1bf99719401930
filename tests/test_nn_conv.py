"""The book's networks: parameter counts, outputs, training, layout, registry, errors."""

import importlib.util
import os
import pathlib
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from pyimagesearch.nn.conv import (
    MODEL_NAMES,
    AlexNet,
    DeeperGoogLeNet,
    FCHeadNet,
    LeNet,
    MiniGoogLeNet,
    MiniVGGNet,
    ResNet,
    ShallowNet,
    book_config,
    build_model,
)

BOOK_BUILDS = [
    ("shallownet", lambda: ShallowNet.build(32, 32, 3, 3), 99_203),
    ("lenet", lambda: LeNet.build(28, 28, 1, 10), 1_256_080),
    ("minivggnet", lambda: MiniVGGNet.build(32, 32, 3, 10), 2_171_178),
    ("alexnet", lambda: AlexNet.build(227, 227, 3, 2, reg=0.0002), 58_327_810),
    ("minigooglenet", lambda: MiniGoogLeNet.build(32, 32, 3, 10), 1_656_250),
    ("deepergooglenet", lambda: DeeperGoogLeNet.build(64, 64, 3, 200, reg=0.0002),
     3_667_976),
    ("resnet-cifar", lambda: ResNet.build(32, 32, 3, 10, (9, 9, 9), (64, 64, 128, 256),
                                          reg=0.0005), 886_102),
    ("resnet-tiny-imagenet",
     lambda: ResNet.build(64, 64, 3, 200, (3, 4, 6), (64, 128, 256, 512), reg=0.0005,
                          dataset="tiny_imagenet"), 2_265_748),
]


def _random_batch(model, n=2, seed=0):
    shape = (n,) + tuple(model.input_shape[1:])
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def _assert_softmax(probs, n, classes):
    probs = keras.ops.convert_to_numpy(probs)
    assert probs.shape == (n, classes)
    assert np.all(probs >= 0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("build, expected", [b[1:] for b in BOOK_BUILDS],
                         ids=[b[0] for b in BOOK_BUILDS])
def test_book_configuration_parameter_count_and_softmax_output(build, expected):
    model = build()
    assert model.count_params() == expected
    classes = model.output_shape[-1]
    _assert_softmax(model(_random_batch(model), training=False), 2, classes)


SMALL_BUILDS = [
    ("shallownet", lambda: ShallowNet.build(12, 10, 3, 4)),
    ("lenet", lambda: LeNet.build(12, 12, 1, 5)),
    ("minivggnet", lambda: MiniVGGNet.build(16, 12, 3, 3)),
    ("minigooglenet", lambda: MiniGoogLeNet.build(16, 16, 3, 4)),
    ("resnet-cifar", lambda: ResNet.build(16, 16, 3, 3, (1, 2), (8, 8, 16))),
    ("resnet-tiny-imagenet",
     lambda: ResNet.build(16, 16, 3, 3, (1, 1), (8, 8, 16), dataset="tiny_imagenet")),
]


@pytest.mark.parametrize("build", [b[1] for b in SMALL_BUILDS],
                         ids=[b[0] for b in SMALL_BUILDS])
def test_one_training_step_changes_weights_and_gives_finite_loss(build):
    model = build()
    classes = model.output_shape[-1]
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05),
                  loss="categorical_crossentropy")
    x = _random_batch(model, n=4, seed=1)
    y = keras.utils.to_categorical(np.arange(4) % classes, classes)
    before = [w.copy() for w in model.get_weights()]
    loss = model.train_on_batch(x, y)
    assert np.isfinite(loss)
    changed = [not np.array_equal(b, a) for b, a in zip(before, model.get_weights())]
    assert any(changed)
    _assert_softmax(model.predict(x, verbose=0), 4, classes)


@pytest.mark.parametrize("network, size, final", [
    (MiniGoogLeNet, 64, "global_average_pooling2d"),
    (DeeperGoogLeNet, 32, "pool5"),
])
def test_global_pooling_accepts_sizes_other_than_the_books(network, size, final):
    kwargs = {"pooling": "global"} if network is DeeperGoogLeNet else {}
    model = network.build(size, size, 3, 5, **kwargs)
    pool = [layer for layer in model.layers if layer.name.startswith(final)][0]
    assert isinstance(pool, keras.layers.GlobalAveragePooling2D)
    _assert_softmax(model(_random_batch(model, n=1), training=False), 1, 5)


def test_channels_first_is_honoured():
    previous = keras.config.image_data_format()
    keras.config.set_image_data_format("channels_first")
    try:
        model = MiniGoogLeNet.build(32, 24, 3, 10)
    finally:
        keras.config.set_image_data_format(previous)
    assert model.input_shape == (None, 3, 24, 32)
    assert model.count_params() == 1_656_250
    bns = [l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert bns and all(bn.axis in (1, [1]) for bn in bns)
    concats = [l for l in model.layers if isinstance(l, keras.layers.Concatenate)]
    assert concats and all(c.axis == 1 for c in concats)


def test_deepergooglenet_names_its_layers_as_the_book_does():
    model = DeeperGoogLeNet.build(32, 32, 3, 7, pooling="global")
    names = {layer.name for layer in model.layers}
    expected = {"block1_conv", "block1_bn", "block1_act", "block2_conv", "block3_act",
                "labels", "softmax", "do", "flatten"}
    expected |= {f"pool{i}" for i in range(1, 6)}
    for stage in ("3a", "3b", "4a", "4b", "4c", "4d", "4e"):
        expected |= {f"{stage}_first_conv", f"{stage}_second1_conv",
                     f"{stage}_second2_conv", f"{stage}_third2_conv", f"{stage}_pool",
                     f"{stage}_fourth_conv", f"{stage}_mixed"}
    assert expected <= names
    assert model.get_layer("do").rate == 0.4
    assert model.get_layer("4e_mixed").output.shape[-1] == 256 + 320 + 128 + 128


@pytest.mark.parametrize("build, reg", [
    (lambda: AlexNet.build(57, 57, 3, 2, reg=0.003), 0.003),
    (lambda: DeeperGoogLeNet.build(16, 16, 3, 2, reg=0.004, pooling="global"), 0.004),
    (lambda: ResNet.build(16, 16, 3, 2, (2,), (8, 16), reg=0.005, module_reg=0.005), 0.005),
], ids=["alexnet", "deepergooglenet", "resnet-module-reg"])
def test_every_conv_and_dense_kernel_is_l2_regularised(build, reg):
    model = build()
    weighted = [l for l in model.layers
                if isinstance(l, (keras.layers.Conv2D, keras.layers.Dense))]
    assert weighted
    for layer in weighted:
        assert isinstance(layer.kernel_regularizer, keras.regularizers.L2), layer.name
        assert layer.kernel_regularizer.l2 == pytest.approx(reg)


def test_resnet_modules_follow_the_book():
    model = ResNet.build(16, 16, 3, 2, (2,), (8, 16), bnEps=1e-3, bnMom=0.8)
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    # stem + (3 + shortcut) for the reducing module + 3 for the identity module
    assert len(convs) == 1 + 4 + 3
    assert not any(c.use_bias for c in convs)
    assert sorted(c.filters for c in convs) == [4] * 4 + [8] + [16] * 3
    bns = [l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert all(bn.epsilon == 1e-3 and bn.momentum == 0.8 for bn in bns)
    # pre-activation: the first layer after the input is BN, not a CONV
    assert isinstance(model.layers[1], keras.layers.BatchNormalization)
    assert len([l for l in model.layers if isinstance(l, keras.layers.Add)]) == 2


def test_resnet_tiny_imagenet_stem_halves_the_input():
    model = ResNet.build(64, 64, 3, 200, (1,), (8, 16), dataset="tiny_imagenet")
    pool = [l for l in model.layers if isinstance(l, keras.layers.MaxPooling2D)][0]
    assert tuple(pool.output.shape[1:3]) == (32, 32)
    assert any(isinstance(l, keras.layers.ZeroPadding2D) for l in model.layers)


def test_fcheadnet_builds_the_books_head_on_a_base_model():
    base = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3)])
    head = FCHeadNet.build(base, classes=5, D=16)
    model = keras.Model(inputs=base.inputs[0], outputs=head)
    assert model.get_layer("flatten").output.shape[-1] == 6 * 6 * 4
    dense = [l for l in model.layers if isinstance(l, keras.layers.Dense)]
    assert [d.units for d in dense] == [16, 5]
    assert [d.activation.__name__ for d in dense] == ["relu", "softmax"]
    assert [l.rate for l in model.layers if isinstance(l, keras.layers.Dropout)] == [0.5]
    assert model.count_params() == base.count_params() + (144 * 16 + 16) + (16 * 5 + 5)
    _assert_softmax(model(_random_batch(model), training=False), 2, 5)


@pytest.mark.parametrize("kwargs, message", [
    (dict(baseModel="vgg16", classes=2, D=8), "baseModel"),
    (dict(classes=0, D=8), "classes"),
    (dict(classes=2, D=-1), "D"),
])
def test_fcheadnet_rejects_bad_arguments(kwargs, message):
    kwargs.setdefault("baseModel", keras.Sequential([keras.Input((4, 4, 1)),
                                                     keras.layers.Flatten()]))
    with pytest.raises(ValueError, match=message):
        FCHeadNet.build(**kwargs)


def test_fcheadnet_rejects_a_multi_output_base_model():
    inputs = keras.Input((4,))
    base = keras.Model(inputs, [keras.layers.Dense(2)(inputs), keras.layers.Dense(3)(inputs)])
    with pytest.raises(ValueError, match="baseModel must have exactly one output"):
        FCHeadNet.build(base, 2, 8)


def test_registry_builds_every_name_with_book_defaults_and_overrides():
    assert MODEL_NAMES == ("shallownet", "lenet", "minivggnet", "alexnet",
                           "minigooglenet", "deepergooglenet", "resnet")
    assert book_config("AlexNet") == dict(width=227, height=227, depth=3, classes=2,
                                          reg=0.0002)
    assert book_config("resnet", dataset="tiny_imagenet")["stages"] == (3, 4, 6)
    config = book_config("lenet")
    config["classes"] = 99
    assert book_config("lenet")["classes"] == 10

    model = build_model("LeNet")
    assert model.count_params() == 1_256_080
    model = build_model("minigooglenet", classes=100, width=16, height=16)
    assert model.input_shape == (None, 16, 16, 3) and model.output_shape == (None, 100)
    model = build_model("resnet", dataset="tiny_imagenet", stages=(1,), filters=(8, 16))
    assert model.output_shape == (None, 200)


@pytest.mark.parametrize("name, kwargs, message", [
    ("vgg16", {}, "name='vgg16'"),
    ("lenet", dict(reg=0.1), r"does not take \['reg'\]"),
    ("resnet", dict(dataset="imagenet"), "dataset"),
])
def test_registry_rejects_bad_names_and_arguments(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_model(name, **kwargs)


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("argument, value", [
    ("width", 0), ("height", -3), ("depth", 0), ("classes", 0), ("classes", 2.5),
    ("width", True), ("depth", "3"),
])
def test_non_positive_or_non_integer_sizes_and_classes_are_rejected(name, argument, value):
    with pytest.raises(ValueError, match=f"{argument} must be a positive integer"):
        build_model(name, **{argument: value})


@pytest.mark.parametrize("name, argument, smallest", [
    ("lenet", "width", 4),
    ("minivggnet", "height", 4),
    ("alexnet", "width", 57),
    ("alexnet", "height", 57),
    ("minigooglenet", "width", 7),
])
def test_inputs_too_small_for_the_down_sampling_are_rejected(name, argument, smallest):
    model = build_model(name, **{argument: smallest, "classes": 2})
    assert model.output_shape == (None, 2)
    with pytest.raises(ValueError,
                       match=f"{argument}={smallest - 1} is too small.*at least {smallest}"):
        build_model(name, **{argument: smallest - 1})


@pytest.mark.parametrize("kwargs, message", [
    (dict(stages=(3, 3), filters=(64, 64, 128, 256)), "filters must hold len"),
    (dict(stages=(), filters=(64,)), "stages must hold at least one"),
    (dict(stages=3, filters=(64, 64)), "sequences of integers"),
    (dict(stages=(3, 0), filters=(8, 8, 16)), r"stages\[1\]"),
    (dict(stages=(3,), filters=(0, 8)), r"filters\[0\]"),
    (dict(stages=(3,), filters=(8, 2)), r"filters\[1\] must be at least 4"),
    (dict(dataset="imagenet"), "dataset must be one of"),
    (dict(reg=-0.1), "reg must be a non-negative number"),
    (dict(bnEps=0), "bnEps must be a positive number"),
    (dict(bnMom=1.0), r"bnMom must be a number in \[0, 1\)"),
])
def test_resnet_rejects_bad_arguments(kwargs, message):
    arguments = dict(width=32, height=32, depth=3, classes=10, stages=(9, 9, 9),
                     filters=(64, 64, 128, 256))
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        ResNet.build(**arguments)


@pytest.mark.parametrize("network", [AlexNet, DeeperGoogLeNet])
def test_negative_regularisation_is_rejected(network):
    with pytest.raises(ValueError, match="reg must be a non-negative number"):
        network.build(227, 227, 3, 2, reg=-1e-4)


def test_library_does_not_import_tensorflow():
    package = pathlib.Path(__file__).resolve().parents[1] / "pyimagesearch" / "nn"
    for path in package.rglob("*.py"):
        text = path.read_text()
        assert "import tensorflow" not in text and "from tensorflow" not in text, path


JAX_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import keras
    from pyimagesearch.nn.conv import build_model
    assert keras.backend.backend() == "jax", keras.backend.backend()
    configs = {
        "shallownet": {}, "lenet": {}, "minivggnet": {},
        "alexnet": dict(width=57, height=57),
        "minigooglenet": dict(width=16, height=16),
        "deepergooglenet": dict(width=16, height=16, classes=10, pooling="global"),
        "resnet": dict(stages=(1, 1), filters=(8, 8, 16)),
        "resnet-tiny": dict(dataset="tiny_imagenet", stages=(1,), filters=(8, 16),
                            width=16, height=16),
    }
    for key, kwargs in configs.items():
        model = build_model(key.split("-")[0], **kwargs)
        x = np.random.rand(2, *model.input_shape[1:]).astype("float32")
        probs = np.asarray(model.predict_on_batch(x))
        assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5), key
        print(key, probs.shape)
    print("tensorflow imported:", "tensorflow" in sys.modules)
""")


def test_every_network_runs_a_forward_pass_on_the_jax_backend():
    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed (pip install 'jax[cpu]' to run this test)")
    # unoptimised XLA: the run compiles hundreds of tiny programs and executes each once
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu",
               XLA_FLAGS="--xla_backend_optimization_level=0 "
                         "--xla_llvm_disable_expensive_passes=true")
    result = subprocess.run([sys.executable, "-c", JAX_SCRIPT], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert "alexnet (2, 2)" in lines and "deepergooglenet (2, 10)" in lines
    assert "resnet-tiny (2, 200)" in lines
    assert len([line for line in lines if line.endswith(")")]) == 8
    assert "tensorflow imported: False" in lines


@pytest.mark.parametrize(
    "build",
    [
        lambda: ShallowNet.build(16, 16, 3, 3),
        lambda: LeNet.build(16, 16, 1, 3),
        lambda: MiniVGGNet.build(16, 16, 3, 3),
        lambda: MiniGoogLeNet.build(16, 16, 3, 3),
        lambda: ResNet.build(16, 16, 3, 3, (1, 1, 1), (8, 8, 16, 32)),
    ],
)
def test_softmax_stays_float32_under_mixed_precision(build):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = build()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert model.layers[1].compute_dtype == "float16"
    assert model.layers[-1].compute_dtype == "float32"
    assert keras.backend.standardize_dtype(model.outputs[0].dtype) == "float32"


def _books_resnet(width, height, depth, classes, stages, filters, reg=0.0001, bnEps=2e-5,
                  bnMom=0.9, dataset="cifar"):
    """The book's ResNet.build, transcribed: `build` passes `reg` to no residual module."""
    from keras import layers
    from keras.regularizers import l2

    def residual_module(data, K, stride, chanDim, red=False, reg=0.0001, bnEps=2e-5, bnMom=0.9):
        shortcut = data
        bn1 = layers.BatchNormalization(axis=chanDim, epsilon=bnEps, momentum=bnMom)(data)
        act1 = layers.Activation("relu")(bn1)
        conv1 = layers.Conv2D(int(K * 0.25), (1, 1), use_bias=False,
                              kernel_regularizer=l2(reg))(act1)
        bn2 = layers.BatchNormalization(axis=chanDim, epsilon=bnEps, momentum=bnMom)(conv1)
        act2 = layers.Activation("relu")(bn2)
        conv2 = layers.Conv2D(int(K * 0.25), (3, 3), strides=stride, padding="same",
                              use_bias=False, kernel_regularizer=l2(reg))(act2)
        bn3 = layers.BatchNormalization(axis=chanDim, epsilon=bnEps, momentum=bnMom)(conv2)
        act3 = layers.Activation("relu")(bn3)
        conv3 = layers.Conv2D(K, (1, 1), use_bias=False, kernel_regularizer=l2(reg))(act3)
        if red:
            shortcut = layers.Conv2D(K, (1, 1), strides=stride, use_bias=False,
                                     kernel_regularizer=l2(reg))(act1)
        return layers.add([conv3, shortcut])

    chanDim = -1
    inputs = keras.Input(shape=(height, width, depth))
    x = layers.BatchNormalization(axis=chanDim, epsilon=bnEps, momentum=bnMom)(inputs)
    if dataset == "cifar":
        x = layers.Conv2D(filters[0], (3, 3), use_bias=False, padding="same",
                          kernel_regularizer=l2(reg))(x)
    elif dataset == "tiny_imagenet":
        x = layers.Conv2D(filters[0], (5, 5), use_bias=False, padding="same",
                          kernel_regularizer=l2(reg))(x)
        x = layers.BatchNormalization(axis=chanDim, epsilon=bnEps, momentum=bnMom)(x)
        x = layers.Activation("relu")(x)
        x = layers.ZeroPadding2D((1, 1))(x)
        x = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    for i in range(0, len(stages)):
        stride = (1, 1) if i == 0 else (2, 2)
        x = residual_module(x, filters[i + 1], stride, chanDim, red=True, bnEps=bnEps,
                            bnMom=bnMom)
        for j in range(0, stages[i] - 1):
            x = residual_module(x, filters[i + 1], (1, 1), chanDim, bnEps=bnEps, bnMom=bnMom)
    x = layers.BatchNormalization(axis=chanDim, epsilon=bnEps, momentum=bnMom)(x)
    x = layers.Activation("relu")(x)
    x = layers.AveragePooling2D((8, 8))(x)
    x = layers.Flatten()(x)
    x = layers.Dense(classes, kernel_regularizer=l2(reg))(x)
    x = layers.Activation("softmax")(x)
    return keras.Model(inputs, x)


def _regularisation_loss(model):
    return float(sum(float(keras.ops.convert_to_numpy(loss)) for loss in model.losses))


@pytest.mark.parametrize("arguments", [
    ((32, 32, 3, 10, (9, 9, 9), (64, 64, 128, 256)), dict(reg=0.0005)),
    ((64, 64, 3, 200, (3, 4, 6), (64, 128, 256, 512)), dict(reg=0.0005, dataset="tiny_imagenet")),
], ids=["cifar10", "tiny-imagenet"])
def test_resnet_regularises_as_the_books_build(arguments):
    (positional, keywords) = arguments
    book = _books_resnet(*positional, **keywords)
    model = ResNet.build(*positional, **keywords)
    assert model.count_params() == book.count_params()
    book.set_weights(model.get_weights())
    assert _regularisation_loss(model) == pytest.approx(_regularisation_loss(book), abs=1e-6)


def test_resnet_build_reg_reaches_only_the_stem_and_the_classifier():
    model = ResNet.build(16, 16, 3, 2, (2,), (8, 16), reg=0.005)
    strengths = {l.name: l.kernel_regularizer.l2 for l in model.layers
                 if isinstance(l, (keras.layers.Conv2D, keras.layers.Dense))}
    (stem, *modules, dense) = strengths.values()
    assert stem == dense == pytest.approx(0.005)
    assert modules and all(s == pytest.approx(0.0001) for s in modules)


def test_resnet_module_reg_is_checked():
    with pytest.raises(ValueError, match="module_reg"):
        ResNet.build(16, 16, 3, 2, (1,), (8, 16), module_reg=-1)


@pytest.mark.parametrize("size", [64, 96, 128])
def test_deepergooglenet_builds_the_books_pooling_by_default(size):
    # the book's AveragePooling2D((4, 4)) is the default at every size; the global
    # pool is asked for, and equals the book's pool at 64x64 only
    book = DeeperGoogLeNet.build(size, size, 3, 10)
    pool = book.get_layer("pool5")
    assert isinstance(pool, keras.layers.AveragePooling2D) and pool.pool_size == (4, 4)
    glob = DeeperGoogLeNet.build(size, size, 3, 10, pooling="global")
    assert isinstance(glob.get_layer("pool5"), keras.layers.GlobalAveragePooling2D)
    # the final volume is 4x4 at 64, 6x6 at 96 and 8x8 at 128: the book's pool leaves
    # 1x1, 1x1 and 2x2 positions of 832 channels (4e), so at 128 its classifier has
    # 3 x 832 = 2,496 more weights per class
    positions = {64: 1, 96: 1, 128: 4}[size]
    assert book.count_params() == glob.count_params() + (positions - 1) * 832 * 10
    if size < 128:  # the same weights: the same outputs at 64 only
        glob.set_weights(book.get_weights())
        x = _random_batch(book, n=2, seed=3)
        same = np.allclose(keras.ops.convert_to_numpy(book(x, training=False)),
                           keras.ops.convert_to_numpy(glob(x, training=False)), atol=1e-6)
        assert same == (size == 64)


def test_deepergooglenet_refuses_sizes_the_books_pool_cannot_take():
    with pytest.raises(ValueError, match=r"width=32 is too small for DeeperGoogLeNet with the book's "
                                         r"4x4 average pool \(pooling='book'; pooling='global' takes "
                                         r"any size\).*at least 49"):
        DeeperGoogLeNet.build(32, 32, 3, 10)
    DeeperGoogLeNet.build(49, 49, 3, 10)  # the smallest the book's pool takes
    with pytest.raises(ValueError, match="pooling must be one of"):
        DeeperGoogLeNet.build(64, 64, 3, 10, pooling="average")
