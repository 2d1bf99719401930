"""The ground floor: files written atomically and published as one unit, signals,
progress output, random draws keyed on (seed, epoch, batch) and argument checks.

Nothing here imports another pyimagesearch package or loads Keras, OpenCV,
h5py, scikit-learn or matplotlib.
"""
