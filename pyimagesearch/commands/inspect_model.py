"""List a network's layers: index, name, class, output shape, parameters, trainable.

NAME is one of the book's networks (built with the book's configuration) or a
keras.applications network. Chapter 5's inspect_model.py, generalised: use the
indexes to pick the layers to freeze or cut during network surgery.
"""

import os

HELP = "list a network's layers with their indexes (chapter 5)"


def add_arguments(parser):
    """Adds the command's arguments to `parser`."""
    parser.add_argument("name", metavar="NAME",
                        help="a book network (e.g. minigooglenet) or a keras.applications "
                             "network (e.g. vgg16)")
    parser.add_argument("--include-top", type=int, choices=(0, 1), default=1,
                        help="keras.applications only: 1 keeps the fully-connected head, "
                             "0 drops it (default: 1)")
    parser.add_argument("--weights", default=None,
                        help="imagenet (keras.applications only; downloads once) or the "
                             "path of a weights file (default: none, the layers need no "
                             "weights)")
    parser.add_argument("--input-shape", default=None, metavar="H,W,C",
                        help="input height, width and channels, e.g. 64,64,3 (default: "
                             "the network's own)")


def run(args):
    """Builds the network and prints one row per layer.

    The name, options and weights file are checked before Keras is imported,
    so a mistake is answered at once.

    Returns:
        The exit status, 0.

    Raises:
        ValueError: unknown NAME, a bad --input-shape, or an option the
            network does not support.
        FileNotFoundError: a --weights file that does not exist, or ImageNet
            weights that cannot be downloaded.
    """
    from pyimagesearch.nn.applications import APPLICATIONS
    from pyimagesearch.nn.names import MODEL_NAMES

    key = args.name.lower()
    input_shape = _parse_input_shape(args.input_shape)
    weights = None if args.weights is None or args.weights.lower() == "none" else args.weights
    if key in MODEL_NAMES:
        if args.include_top == 0:
            raise ValueError("--include-top 0 applies only to keras.applications "
                             f"networks, not to the book's {args.name}.")
        if weights is not None and weights.lower() == "imagenet":
            raise ValueError(f"--weights imagenet: the book's {args.name} has no "
                             "ImageNet weights; give none or a weights file PATH.")
    elif key not in APPLICATIONS:
        raise ValueError(
            f"unknown NAME {args.name!r}; expected one of the book's networks "
            f"{list(MODEL_NAMES)} or keras.applications networks {sorted(APPLICATIONS)}."
        )
    if weights is not None and weights.lower() != "imagenet" and not os.path.isfile(weights):
        raise FileNotFoundError(f"--weights file not found: {weights!r}")

    from pyimagesearch.runtime import import_keras, tensorflow_start_up_filtered

    with tensorflow_start_up_filtered():  # TensorFlow's start-up lines below the log level
        import_keras()  # once the arguments are checked
    if key in MODEL_NAMES:
        from pyimagesearch.nn.conv import build_model

        kwargs = {}
        if input_shape is not None:
            kwargs = dict(height=input_shape[0], width=input_shape[1],
                          depth=input_shape[2])
        model = build_model(key, **kwargs)
        if weights is not None:
            model.load_weights(weights)
    else:
        from pyimagesearch.nn.applications import build_application

        model = build_application(key, include_top=bool(args.include_top), weights=weights,
                                  input_shape=input_shape)
    print(format_layers(model, name=key))
    return 0


def format_layers(model, name=None):
    """Formats one row per layer of `model`, then the parameter totals.

    Args:
        model: a built `keras.Model`.
        name: the network's name in the totals line (default: `model.name`).

    Returns:
        The table as a string.
    """
    rows = [("index", "name", "class", "output shape", "params", "trainable")]
    for i, layer in enumerate(model.layers):
        rows.append((str(i), layer.name, layer.__class__.__name__, _output_shape(layer),
                     f"{layer.count_params():,}", str(layer.trainable)))
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [cell.rjust(w) if c in (0, 4) else cell.ljust(w)
                 for c, (cell, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
    trainable = sum(_size(w) for w in model.trainable_weights)
    total = model.count_params()
    lines.append(f"{name or model.name}: {len(model.layers)} layers, {total:,} parameters "
                 f"({trainable:,} trainable, {total - trainable:,} non-trainable)")
    return "\n".join(lines)


def _output_shape(layer):
    try:
        return str(tuple(layer.output.shape))
    except (AttributeError, ValueError):  # a layer shared between several calls
        return "multiple"


def _size(variable):
    count = 1
    for dim in variable.shape:
        count *= int(dim)
    return count


def _parse_input_shape(text):
    if text is None:
        return None
    try:
        shape = tuple(int(part) for part in text.replace("x", ",").split(","))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"--input-shape must be three positive integers H,W,C, "
                         f"got {text!r}.")
    return shape
