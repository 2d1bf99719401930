"""Fine-tune VGG16 on Flowers-17 by network surgery.

Practitioner Bundle, chapter 5 ("Fine-tuning Networks"), finetune_flowers17.py:
VGG16 pre-trained on ImageNet loses its fully-connected head
(include_top=False); a new FCHeadNet head (256 hidden units) goes on top. The
body is frozen while the head warms up (RMSprop, lr 0.001, 25 epochs), then
the layers from 15 on (block 5) are unfrozen and the network is trained on
with SGD (lr 0.001, 100 epochs). A classification report follows each phase.
Training batches come from ImageAugmenter (the book's parameters). The book
reports about 95% accuracy after fine-tuning.

Usage:
    python finetune_flowers17.py --dataset ../datasets/flowers17/images \\
        --model flowers17.keras
"""

import argparse

from pyimagesearch.cli import run_main
from pyimagesearch.runtime import import_keras, tensorflow_start_up_filtered


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-d", "--dataset", required=True,
                        help="path to the input dataset ({class}/{image} folders)")
    parser.add_argument("-m", "--model", required=True,
                        help="path of the fine-tuned model to save (.keras)")
    parser.add_argument("-p", "--plot", default=None,
                        help="path of the loss/accuracy plot of both phases "
                             "(default: the model path with .png)")
    parser.add_argument("-w", "--weights", default="imagenet",
                        help="VGG16 body weights: imagenet, none (random, for tests) or "
                             "the path of a weights file (default: imagenet)")
    parser.add_argument("--image-size", type=int, default=224,
                        help="side of the square network input (default: 224)")
    parser.add_argument("--warmup-epochs", type=int, default=25,
                        help="epochs of the head warm-up, body frozen (default: 25)")
    parser.add_argument("-e", "--epochs", type=int, default=100,
                        help="epochs of fine-tuning with block 5 unfrozen (default: 100)")
    parser.add_argument("-b", "--batch-size", type=int, default=32,
                        help="mini-batch size (default: 32)")
    parser.add_argument("--unfreeze-from", type=int, default=15,
                        help="index of the first body layer to unfreeze (default: 15)")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of the augmentation, for reproducible runs")
    return parser


def evaluate(model, testX, testY, classNames, batchSize):
    """Prints the classification report and rank-1 (rank-5 beyond 5 classes)."""
    from pyimagesearch.utils import evaluate_predictions
    from pyimagesearch.infra.progress import keras_verbose

    evaluate_predictions(model.predict(testX, batch_size=batchSize, verbose=keras_verbose()), testY, classNames)


def run(args):
    import os

    from pyimagesearch.datasets import SimpleDatasetLoader, list_images

    # the image paths first, so that a wrong --dataset is answered before Keras loads
    print("[INFO] loading images...")
    imagePaths = list_images(args.dataset)

    with tensorflow_start_up_filtered():  # the checks passed: Keras loads, without TensorFlow's start-up lines
        import_keras()
    import keras
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelEncoder

    from pyimagesearch.augmentation import ImageAugmenter
    from pyimagesearch.nn.applications import build_application
    from pyimagesearch.nn.conv import FCHeadNet
    from pyimagesearch.preprocessing import AspectAwarePreprocessor, ImageToArrayPreprocessor
    from pyimagesearch.utils import plot_history
    from pyimagesearch.infra.progress import keras_verbose

    # the image generator for data augmentation (the book's parameters)
    aug = ImageAugmenter(rotation_range=30, width_shift_range=0.1,
                         height_shift_range=0.1, shear_range=0.2, zoom_range=0.2,
                         horizontal_flip=True, fill_mode="nearest", seed=args.seed)

    aap = AspectAwarePreprocessor(args.image_size, args.image_size)
    iap = ImageToArrayPreprocessor()
    sdl = SimpleDatasetLoader(preprocessors=[aap, iap])
    (data, labels) = sdl.load(imagePaths, verbose=500)
    data = data.astype("float32") / 255.0

    (trainX, testX, trainY, testY) = train_test_split(
        data, labels, test_size=0.25, random_state=42)
    le = LabelEncoder().fit(labels)
    classNames = [str(name) for name in le.classes_]
    trainY = keras.utils.to_categorical(le.transform(trainY), len(classNames))
    testY = keras.utils.to_categorical(le.transform(testY), len(classNames))

    # VGG16 without its head, and a new head on top of it: the model to train
    baseModel = build_application("vgg16", include_top=False, weights=args.weights,
                                  input_shape=(args.image_size, args.image_size, 3))
    headModel = FCHeadNet.build(baseModel, len(classNames), 256)
    model = keras.Model(inputs=baseModel.inputs, outputs=headModel)

    # freeze the body: only the new head learns during the warm-up
    for layer in baseModel.layers:
        layer.trainable = False

    print("[INFO] compiling model...")
    opt = keras.optimizers.RMSprop(learning_rate=0.001)
    model.compile(loss="categorical_crossentropy", optimizer=opt, metrics=["accuracy"])

    print("[INFO] training head...")
    steps = max(1, len(trainX) // args.batch_size)  # the book's steps_per_epoch
    warmup = model.fit(aug.flow(trainX, trainY, batch_size=args.batch_size),
                       validation_data=(testX, testY), steps_per_epoch=steps,
                       epochs=args.warmup_epochs, verbose=keras_verbose())

    print("[INFO] evaluating after initialization...")
    evaluate(model, testX, testY, classNames, args.batch_size)

    # unfreeze the final set of CONV layers (block 5) and recompile
    for layer in baseModel.layers[args.unfreeze_from:]:
        layer.trainable = True

    print("[INFO] re-compiling model...")
    opt = keras.optimizers.SGD(learning_rate=0.001)
    model.compile(loss="categorical_crossentropy", optimizer=opt, metrics=["accuracy"])

    print("[INFO] fine-tuning model...")
    finetune = model.fit(aug.flow(trainX, trainY, batch_size=args.batch_size),
                         validation_data=(testX, testY), steps_per_epoch=steps,
                         epochs=args.epochs, verbose=keras_verbose())

    print("[INFO] evaluating after fine-tuning...")
    evaluate(model, testX, testY, classNames, args.batch_size)

    print("[INFO] serializing model...")
    model.save(args.model)
    plotPath = args.plot or os.path.splitext(args.model)[0] + ".png"
    history = {key: warmup.history[key] + finetune.history.get(key, [])
               for key in warmup.history}
    plot_history(history, plotPath, title="Training Loss and Accuracy "
                 f"(warm-up: epochs 0-{args.warmup_epochs - 1}, then fine-tuning)")
    print(f"[INFO] model saved to {args.model}, plot saved to {plotPath}")


def main(argv=None):
    run_main(build_parser(), run, argv)


if __name__ == "__main__":
    main()
