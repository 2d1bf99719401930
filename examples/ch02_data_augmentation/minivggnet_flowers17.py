"""Train MiniVGGNet on Flowers-17 without data augmentation (the baseline).

Practitioner Bundle, chapter 2 ("Data Augmentation"), minivggnet_flowers17.py:
images resized to 64x64 with AspectAwarePreprocessor, scaled to [0, 1], a
75/25 split, MiniVGGNet trained with SGD (lr 0.05) for 100 epochs. The book
reports 64% accuracy (heavy over-fitting); compare minivggnet_flowers17_data_aug.py.

Usage:
    python minivggnet_flowers17.py --dataset ../datasets/flowers17/images
"""

import argparse

from pyimagesearch.cli import run_main
from pyimagesearch.runtime import import_keras, tensorflow_start_up_filtered


def build_parser(name="minivggnet_flowers17", description=__doc__):
    """The book's switches; `name` sets the default model and plot file names."""
    parser = argparse.ArgumentParser(description=description.split("\n\n")[0])
    parser.add_argument("-d", "--dataset", required=True,
                        help="path to the input dataset ({class}/{image} folders)")
    parser.add_argument("-m", "--model", default=f"{name}.keras",
                        help="path of the trained model to save (.keras)")
    parser.add_argument("-p", "--plot", default=f"{name}.png",
                        help="path of the loss/accuracy plot")
    parser.add_argument("-e", "--epochs", type=int, default=100,
                        help="training epochs (default: 100)")
    parser.add_argument("-b", "--batch-size", type=int, default=32,
                        help="mini-batch size (default: 32)")
    parser.add_argument("--learning-rate", type=float, default=0.05,
                        help="SGD learning rate (default: 0.05)")
    parser.add_argument("--image-size", type=int, default=64,
                        help="side of the square network input (default: 64)")
    return parser


def run(args, aug=None):
    """Trains and evaluates MiniVGGNet; training batches come from `aug.flow` when given.

    The plot's title names the dataset by its folder (Flowers-17's is "flowers17").
    """
    import os

    from pyimagesearch.datasets import SimpleDatasetLoader, list_images

    # grab the image paths (before Keras loads, so a wrong --dataset is
    # answered at once); the class names are the folder names
    print("[INFO] loading images...")
    imagePaths = list_images(args.dataset)
    datasetName = os.path.basename(os.path.normpath(os.path.abspath(args.dataset)))
    variant = "" if aug is None else ", augmented"
    title = f"Training Loss and Accuracy (MiniVGGNet, {datasetName}{variant})"

    with tensorflow_start_up_filtered():  # the checks passed: Keras loads, without TensorFlow's start-up lines
        import_keras()
    import keras
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelEncoder

    from pyimagesearch.nn.conv import MiniVGGNet
    from pyimagesearch.preprocessing import AspectAwarePreprocessor, ImageToArrayPreprocessor
    from pyimagesearch.utils import evaluate_predictions, plot_history
    from pyimagesearch.infra.progress import keras_verbose

    # load the images, resize them preserving the aspect ratio, scale to [0, 1]
    aap = AspectAwarePreprocessor(args.image_size, args.image_size)
    iap = ImageToArrayPreprocessor()
    sdl = SimpleDatasetLoader(preprocessors=[aap, iap])
    (data, labels) = sdl.load(imagePaths, verbose=500)
    data = data.astype("float32") / 255.0

    # 75% training, 25% testing
    (trainX, testX, trainY, testY) = train_test_split(
        data, labels, test_size=0.25, random_state=42)

    # one-hot labels (LabelEncoder + to_categorical also works with two classes)
    le = LabelEncoder().fit(labels)
    classNames = [str(name) for name in le.classes_]
    trainY = keras.utils.to_categorical(le.transform(trainY), len(classNames))
    testY = keras.utils.to_categorical(le.transform(testY), len(classNames))

    print("[INFO] compiling model...")
    opt = keras.optimizers.SGD(learning_rate=args.learning_rate)
    model = MiniVGGNet.build(width=args.image_size, height=args.image_size, depth=3,
                             classes=len(classNames))
    model.compile(loss="categorical_crossentropy", optimizer=opt, metrics=["accuracy"])

    print("[INFO] training network...")
    if aug is None:
        H = model.fit(trainX, trainY, validation_data=(testX, testY),
                      batch_size=args.batch_size, epochs=args.epochs, verbose=keras_verbose())
    else:
        # the book's fit_generator(...): model.fit takes the flow, and with the book's
        # steps_per_epoch every epoch is that many full batches, as in Keras 2
        H = model.fit(aug.flow(trainX, trainY, batch_size=args.batch_size),
                      validation_data=(testX, testY),
                      steps_per_epoch=max(1, len(trainX) // args.batch_size),
                      epochs=args.epochs, verbose=keras_verbose())

    print("[INFO] evaluating network...")
    predictions = model.predict(testX, batch_size=args.batch_size, verbose=keras_verbose())
    evaluate_predictions(predictions, testY, classNames)

    print("[INFO] serializing network...")
    model.save(args.model)
    plot_history(H, args.plot, title=title)
    print(f"[INFO] model saved to {args.model}, plot saved to {args.plot}")


def main(argv=None):
    run_main(build_parser(), run, argv)


if __name__ == "__main__":
    main()
