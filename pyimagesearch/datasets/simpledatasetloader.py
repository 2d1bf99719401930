"""Load a small image dataset into memory (the book's SimpleDatasetLoader)."""

import numpy as np

from pyimagesearch.datasets.paths import label_from_parent, read_image


class SimpleDatasetLoader:
    """Reads images from disk, applies preprocessors, labels them by parent folder.

    Args:
        preprocessors: list of objects with `preprocess(image)`, applied in order.

    Attributes:
        skipped: paths of the files the last `load` could not decode.
    """

    def __init__(self, preprocessors=None):
        self.preprocessors = list(preprocessors or [])
        self.skipped = []

    def load(self, imagePaths, verbose=-1):
        """Loads the images of `imagePaths`.

        Unreadable or non-image files are skipped, and reported once at the end.

        Args:
            imagePaths: image file paths laid out as `{dataset}/{class}/{image}`.
            verbose: report progress every `verbose` images (<= 0: silent).

        Returns:
            `(data, labels)`: an array of the preprocessed images and an array
            of their labels (parent folder names).
        """
        imagePaths = list(imagePaths)
        data, labels = [], []
        self.skipped = []
        for i, imagePath in enumerate(imagePaths):
            image = read_image(imagePath)
            if image is None:
                self.skipped.append(str(imagePath))
            else:
                for preprocessor in self.preprocessors:
                    image = preprocessor.preprocess(image)
                data.append(image)
                labels.append(label_from_parent(imagePath))
            if verbose > 0 and (i + 1) % verbose == 0:
                print(f"[INFO] processed {i + 1}/{len(imagePaths)}")
        if self.skipped:
            shown = ", ".join(self.skipped[:5]) + (" ..." if len(self.skipped) > 5 else "")
            print(f"[INFO] skipped {len(self.skipped)} unreadable file(s): {shown}")
        return np.array(data), np.array(labels)
