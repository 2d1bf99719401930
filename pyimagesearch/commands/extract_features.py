"""Extract features of an image folder with a headless keras.applications network.

The book's extract_features.py (chapters 3 and 10): shuffles the images
(seeded), labels them by parent folder (or file-name prefix), runs the network
without its classifier in batches and writes the flattened float32 features,
the labels and the class names to an HDF5 file (dataKey "features").
"""

from pyimagesearch.commands._images import add_reading_arguments, max_pixels

HELP = "write a pretrained network's features of an image folder to HDF5"


def add_arguments(parser):
    parser.add_argument("-d", "--dataset", required=True, help="folder of input images")
    parser.add_argument("-o", "--output", required=True, help="HDF5 file to write")
    parser.add_argument("--model", default="vgg16",
                        help="keras.applications network: vgg16, vgg19, resnet50, resnet50v2, "
                        "inceptionv3, xception, mobilenetv2, densenet121, efficientnetb0 "
                        "(default: vgg16)")
    parser.add_argument("--weights", default="imagenet",
                        help="imagenet, none (random, for tests) or a weights file (default: imagenet)")
    parser.add_argument("--labels", choices=("parent", "prefix"), default="parent",
                        help="label source: parent folder or file-name prefix (default: parent)")
    parser.add_argument("--image-size", type=int, default=224,
                        help="network input side in pixels (default: 224)")
    parser.add_argument("--pooling", choices=("avg", "max"), default=None,
                        help="pool the last feature map instead of flattening it")
    parser.add_argument("-b", "--batch-size", type=int, default=32,
                        help="images per forward pass (default: 32)")
    parser.add_argument("-s", "--buffer-size", type=int, default=1000,
                        help="rows buffered before writing (default: 1000)")
    parser.add_argument("--seed", type=int, default=42, help="shuffle seed (default: 42)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    add_reading_arguments(parser, progress="progress bar")


def check_paths(args):
    """Checks --dataset, --weights and --output before the heavy imports (offline, the
    ImageNet weights too: one line in seconds, before TensorFlow loads)."""
    from pyimagesearch.commands._paths import check_output_file, require_existing
    from pyimagesearch.nn.applications import check_imagenet_weights

    require_existing(args.dataset, "--dataset", "image folder", folder=True)
    if args.weights.lower() not in ("imagenet", "none"):
        require_existing(args.weights, "--weights", "weights file", folder=False)
    check_output_file(args.output, "--output", overwrite=args.overwrite)
    if args.weights.lower() == "imagenet":
        check_imagenet_weights(args.model, include_top=False)


def run(args):
    check_paths(args)
    from pyimagesearch.runtime import import_keras, tensorflow_start_up_filtered

    with tensorflow_start_up_filtered():  # TensorFlow's start-up lines below the log level
        import_keras()  # once the paths are checked
    from pyimagesearch.io.features import extract_features

    report = extract_features(
        args.dataset, args.output, label_from=args.labels, model=args.model,
        weights=args.weights, image_size=args.image_size, batch_size=args.batch_size,
        buf_size=args.buffer_size, pooling=args.pooling, random_state=args.seed,
        overwrite=args.overwrite, verbose=not args.quiet, follow_links=args.follow_links,
        max_pixels=max_pixels(args),
    )
    if args.quiet:  # -q hides the progress bars only
        print(report.summary())
    return 0
